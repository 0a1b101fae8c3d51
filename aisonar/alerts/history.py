"""The firing history of alert rules: a row opened when a rule starts firing, closed when
it resolves (or is turned off), read newest first with whom each notice reached, and
forgotten with the organization's usage events (retention) or its rule.

It holds no personal data of its own: whom a notice reached is read from the notice's
deliveries, which a person's erasure deletes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.alerts.models import Firing, Notified
from aisonar.clock import as_utc
from aisonar.notify.recipients import reached
from aisonar.store.tables import alert_firings

FIRED = "fired"
RESOLVED = "resolved"


async def open_firing(
    conn: AsyncConnection,
    *,
    rule_id: str,
    org_id: str,
    at: datetime,
    observed: str,
    threshold: str,
    channels: Sequence[str],
    notice_id: int,
) -> None:
    await conn.execute(
        insert(alert_firings).values(
            rule_id=rule_id,
            org_id=org_id,
            fired_at=at,
            observed=observed,
            threshold=threshold,
            channels=list(channels),
            fired_notice_id=notice_id,
        )
    )


async def close_firing(
    conn: AsyncConnection,
    rule_id: str,
    at: datetime,
    *,
    observed: str | None = None,
    notice_id: int | None = None,
) -> None:
    """Resolve the rule's open firing, if it has one."""
    await conn.execute(
        update(alert_firings)
        .where(alert_firings.c.rule_id == rule_id, alert_firings.c.resolved_at.is_(None))
        .values(resolved_at=at, resolved_observed=observed, resolved_notice_id=notice_id)
    )


async def forget_rule(conn: AsyncConnection, rule_id: str) -> None:
    await conn.execute(delete(alert_firings).where(alert_firings.c.rule_id == rule_id))


async def forget_before(conn: AsyncConnection, org_id: str, before: datetime) -> int:
    """Retention: the organization's firings that fired before `before`; how many went."""
    deleted = await conn.execute(
        delete(alert_firings).where(
            alert_firings.c.org_id == org_id, alert_firings.c.fired_at < before
        )
    )
    return int(deleted.rowcount)


async def firings(
    conn: AsyncConnection,
    *,
    rule_id: str | None = None,
    org_id: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Firing]:
    """A rule's firings, or an organization's, or everyone's, newest first; `before_id`
    pages back from a firing seen."""
    query = select(alert_firings).order_by(alert_firings.c.id.desc()).limit(limit)
    if rule_id is not None:
        query = query.where(alert_firings.c.rule_id == rule_id)
    if org_id is not None:
        query = query.where(alert_firings.c.org_id == org_id)
    if before_id is not None:
        query = query.where(alert_firings.c.id < before_id)
    rows = list(await conn.execute(query))
    told = {row.fired_notice_id: FIRED for row in rows} | {
        row.resolved_notice_id: RESOLVED for row in rows if row.resolved_notice_id is not None
    }
    by_notice: dict[int, list[Notified]] = {}
    for delivery in await reached(conn, told):
        by_notice.setdefault(delivery.notice_id, []).append(
            Notified(
                told[delivery.notice_id],
                delivery.channel,
                delivery.to,
                delivery.status.value,
                delivery.attempts,
                delivery.last_error,
            )
        )
    return [_firing(row, by_notice) for row in rows]


def _firing(row: Any, by_notice: dict[int, list[Notified]]) -> Firing:
    notified = [*by_notice.get(row.fired_notice_id, [])]
    if row.resolved_notice_id is not None:
        notified += by_notice.get(row.resolved_notice_id, [])
    return Firing(
        id=row.id,
        rule_id=row.rule_id,
        org_id=row.org_id,
        fired_at=as_utc(row.fired_at),
        observed=row.observed,
        threshold=row.threshold,
        channels=tuple(row.channels),
        resolved_at=None if row.resolved_at is None else as_utc(row.resolved_at),
        resolved_observed=row.resolved_observed,
        notified=tuple(notified),
    )
