"""Retention: raw usage events past their organization's window are deleted, with the
organization's alert firings and attribution rollups (which name its end users and
mirror its events: the day the window cuts in is rebuilt from the events left), and
minute, hour and day rollups past theirs, and the site's page-view days with the hour
and day rollups (through the steps its caller gives, `alerts.history.forget_before` and
`analytics.page_views.delete_views_before`: usage imports nothing of alerts or
analytics); the ledger is never touched (the financial record). Deletes go in small
batches (an organization's attribution rollups, a day's worth per run, in one), each its
own short transaction with a pause after it, so the usage writer and the gateway never
wait long behind them. On PostgreSQL, days of raw events past every organization's
window are dropped whole first (`partitions`). A run someone asked for (the command
line, the API) is audited once it is done; the background task's are not."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.accounts.plans import retention_by_org
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.store.tables import usage_events, usage_rollups
from aisonar.usage.attribution_rollups import forget_before
from aisonar.usage.partitions import drop_partitions_before, ensure_partitions
from aisonar.usage.rollups import DAY, HOUR, MINUTE

log = logging.getLogger(__name__)

# Another domain's rows kept as long as the day rollups: forgets those before the day and
# says how many went.
ForgetBefore = Callable[[AsyncConnection, date], Awaitable[int]]
# Another domain's rows of an organization kept as long as its usage events: forgets those
# before the moment and says how many went.
ForgetOrgBefore = Callable[[AsyncConnection, str, datetime], Awaitable[int]]


@dataclass(frozen=True)
class RetentionPolicy:
    # Minute rollups, and hour and day rollups, in days.
    minute_rollup_days: int
    rollup_days: int
    batch_size: int
    pause_s: float

    @classmethod
    def of(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            minute_rollup_days=settings.minute_rollup_retention_days,
            rollup_days=settings.rollup_retention_days,
            batch_size=settings.retention_batch_size,
            pause_s=settings.retention_pause_s,
        )


@dataclass
class RetentionReport:
    as_of: datetime
    # Organization id -> raw events deleted.
    events_deleted: dict[str, int] = field(default_factory=dict)
    rollups_deleted: int = 0
    # PostgreSQL: whole days of raw events dropped (their rows are not counted above).
    partitions_dropped: int = 0
    # Rows of the site's page views (one per day and combination).
    site_views_deleted: int = 0
    alert_firings_deleted: int = 0

    @property
    def total_events_deleted(self) -> int:
        return sum(self.events_deleted.values())

    def summary(self) -> dict[str, str | int]:
        """What a run did, as the command line prints it and the audit log records it."""
        return {
            "as_of": self.as_of.isoformat(),
            "events_deleted": self.total_events_deleted,
            "organizations": len(self.events_deleted),
            "rollups_deleted": self.rollups_deleted,
            "partitions_dropped": self.partitions_dropped,
            "site_views_deleted": self.site_views_deleted,
            "alert_firings_deleted": self.alert_firings_deleted,
        }


async def _delete_events(
    engine: AsyncEngine, org_id: str, before: datetime, policy: RetentionPolicy
) -> int:
    deleted = 0
    while True:
        oldest = (
            select(usage_events.c.id)
            .where(usage_events.c.org_id == org_id, usage_events.c.started_at < before)
            .limit(policy.batch_size)
        )
        async with engine.begin() as conn:
            result = await conn.execute(
                delete(usage_events).where(usage_events.c.id.in_(oldest.scalar_subquery()))
            )
        deleted += result.rowcount
        if result.rowcount < policy.batch_size:
            return deleted
        await asyncio.sleep(policy.pause_s)


async def _delete_rollups(
    engine: AsyncEngine, granularity: int, before: datetime, policy: RetentionPolicy
) -> int:
    key = tuple_(
        usage_rollups.c.granularity,
        usage_rollups.c.org_id,
        usage_rollups.c.bucket_start,
        usage_rollups.c.dimensions_id,
    )
    deleted = 0
    while True:
        oldest = (
            select(
                usage_rollups.c.granularity,
                usage_rollups.c.org_id,
                usage_rollups.c.bucket_start,
                usage_rollups.c.dimensions_id,
            )
            .where(
                usage_rollups.c.granularity == granularity, usage_rollups.c.bucket_start < before
            )
            .limit(policy.batch_size)
        )
        async with engine.begin() as conn:
            result = await conn.execute(delete(usage_rollups).where(key.in_(oldest)))
        deleted += result.rowcount
        if result.rowcount < policy.batch_size:
            return deleted
        await asyncio.sleep(policy.pause_s)


def _cutoff(as_of: datetime, days: int) -> datetime:
    try:
        return as_of - timedelta(days=days)
    except OverflowError as error:
        raise InvalidInput(
            N_("{as_of} is too early to count {days} days back from"),
            param="as_of",
            as_of=as_of.isoformat(),
            days=days,
        ) from error


async def _record_run(conn: AsyncConnection, actor: Actor, report: RetentionReport) -> None:
    await audit.record(
        conn,
        actor,
        "retention.run",
        object_kind="retention_run",
        object_id=report.as_of.isoformat(),
        changes=audit.created(report.summary()),
    )


async def run_retention(
    engine: AsyncEngine,
    as_of: datetime,
    policy: RetentionPolicy,
    *,
    forget_site_views: ForgetBefore,
    forget_alert_history: ForgetOrgBefore,
    actor: Actor | None = None,
) -> RetentionReport:
    """Delete what is past its window as of `as_of`; with an actor, audit the run as theirs."""
    async with engine.connect() as conn:
        windows = await retention_by_org(conn)
    # Every cutoff first: a time too early for one refuses the run before anything goes.
    event_cutoffs = {org_id: _cutoff(as_of, days) for org_id, days in sorted(windows.items())}
    rollup_cutoffs = [
        (granularity, _cutoff(as_of, days))
        for granularity, days in (
            (MINUTE, policy.minute_rollup_days),
            (HOUR, policy.rollup_days),
            (DAY, policy.rollup_days),
        )
    ]
    report = RetentionReport(as_of)
    if event_cutoffs:
        # Days past every organization's window go whole; the rest row by row.
        longest = min(event_cutoffs.values())
        report.partitions_dropped = await drop_partitions_before(engine, longest)
    for org_id, before in event_cutoffs.items():
        deleted = await _delete_events(engine, org_id, before, policy)
        if deleted:
            report.events_deleted[org_id] = deleted
        report.rollups_deleted += await forget_before(
            engine, org_id, before, events_deleted=deleted > 0
        )
        async with engine.begin() as conn:
            report.alert_firings_deleted += await forget_alert_history(conn, org_id, before)
    for granularity, before in rollup_cutoffs:
        report.rollups_deleted += await _delete_rollups(engine, granularity, before, policy)
    # Aggregates too, kept as long as the day rollups.
    async with engine.begin() as conn:
        report.site_views_deleted = await forget_site_views(
            conn, _cutoff(as_of, policy.rollup_days).date()
        )
    if actor is not None:
        async with engine.begin() as conn:
            await _record_run(conn, actor, report)
    return report


async def keep_retaining(
    engine: AsyncEngine,
    policy: RetentionPolicy,
    interval_s: float,
    *,
    forget_site_views: ForgetBefore,
    forget_alert_history: ForgetOrgBefore,
) -> None:
    while True:
        # The first run waits an interval too: a restarting server does not delete at once.
        await asyncio.sleep(interval_s)
        try:
            await ensure_partitions(engine, utcnow().date())
            report = await run_retention(
                engine,
                utcnow(),
                policy,
                forget_site_views=forget_site_views,
                forget_alert_history=forget_alert_history,
            )
            if report.events_deleted or report.rollups_deleted or report.site_views_deleted:
                log.info(
                    "retention deleted %d usage events, %d rollups and %d page-view rows",
                    report.total_events_deleted,
                    report.rollups_deleted,
                    report.site_views_deleted,
                )
        except (SQLAlchemyError, OSError):
            log.exception("retention run failed; will retry")
