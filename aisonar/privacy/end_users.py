"""Forgetting an end user: the people an organization's application serves are named on
its usage events (an end-user id, the sessions and properties of their requests), and
are personal data the organization may be asked to erase. The events stay, for the
ledger and the summaries; what they were attributed to goes."""

from __future__ import annotations

from sqlalchemy import null, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.store.tables import usage_events


async def forget_end_user(conn: AsyncConnection, actor: Actor, org_id: str, end_user: str) -> int:
    """Clear the attribution of the organization's events for `end_user`; how many."""
    forgotten = await conn.execute(
        update(usage_events)
        .where(usage_events.c.org_id == org_id, usage_events.c.end_user == end_user)
        .values(end_user=None, session_id=None, properties=null())
    )
    # The audit entry names no one: the id is what is being forgotten.
    await audit.record(
        conn,
        actor,
        "usage.end_user_forgotten",
        object_kind="org",
        object_id=org_id,
        org_id=org_id,
        changes={"events_forgotten": [None, forgotten.rowcount]},
    )
    return forgotten.rowcount
