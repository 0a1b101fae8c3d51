"""Forgetting an end user: the people an organization's application serves are named on
its usage events (an end-user id, the sessions and properties of their requests), and
are personal data the organization may be asked to erase. The events stay, for the
ledger and the summaries; what they were attributed to goes (the attribution rollups of
their days are rebuilt without it), and so do the alert rules that watch that end user
alone, with their history."""

from __future__ import annotations

from sqlalchemy import and_, delete, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.store.tables import alert_firings, alert_rules, usage_events
from aisonar.usage.attribution_rollups import rebuild_days, spans_of


async def forget_end_user(conn: AsyncConnection, actor: Actor, org_id: str, end_user: str) -> int:
    """Clear the attribution of the organization's events for `end_user` and delete its
    rules watching them; how many events."""
    theirs = and_(usage_events.c.org_id == org_id, usage_events.c.end_user == end_user)
    spans = await spans_of(conn, theirs)
    forgotten = await conn.execute(
        update(usage_events).where(theirs).values(end_user=None, session_id=None, properties=null())
    )
    await rebuild_days(conn, spans)
    watching = and_(alert_rules.c.org_id == org_id, alert_rules.c.end_user == end_user)
    await conn.execute(
        delete(alert_firings).where(
            alert_firings.c.rule_id.in_(select(alert_rules.c.id).where(watching))
        )
    )
    rules = await conn.execute(delete(alert_rules).where(watching))
    # The audit entry names no one: the id is what is being forgotten.
    await audit.record(
        conn,
        actor,
        "usage.end_user_forgotten",
        object_kind="org",
        object_id=org_id,
        org_id=org_id,
        changes={
            "events_forgotten": [None, forgotten.rowcount],
            "alert_rules_deleted": [None, rules.rowcount],
        },
    )
    return forgotten.rowcount
