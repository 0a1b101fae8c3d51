"""Hours and days rebuilt from minutes: every run replaces the hour rollups of the last
few hours with the sums of their minutes, and the day rollups of the days those hours
fall in with the sums of their hours, in SQL; then each organization's total per hour
and day (`ORGANIZATION_TOTAL`) from those. The writer adds only to minutes (one upsert
per combination instead of three), but for events older than compaction looks back
(written late, after an outage), which it also adds to their hour and day itself.

Servers sharing a database may all run it: each run is a replacement, so running twice
changes nothing; on PostgreSQL a transaction-scoped advisory lock lets one at a time."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.clock import utcnow
from aisonar.usage.rollups import (
    DAY,
    HOUR,
    KEY_COLUMNS,
    MINUTE,
    ORGANIZATION_TOTAL,
    SUM_COLUMNS,
)

log = logging.getLogger(__name__)
# How far back every run rebuilds hours; the writer adds events older than LATE_AFTER to
# hours and days itself. The hour between them covers clock skew and a missed run.
LOOK_BACK = timedelta(hours=3)
LATE_AFTER = timedelta(hours=2)
_LOCK_KEY = 0x5AD0_0001


def _truncated(dialect: str, granularity: int) -> str:
    if dialect == "sqlite":
        # SQLAlchemy stores DateTime on SQLite as "YYYY-MM-DD HH:MM:SS.ffffff" text.
        if granularity == HOUR:
            return "substr(bucket_start, 1, 13) || ':00:00.000000'"
        return "substr(bucket_start, 1, 10) || ' 00:00:00.000000'"
    unit = "hour" if granularity == HOUR else "day"
    return f"date_trunc('{unit}', bucket_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


def _replacement(granularity: str, bucket: str, dimensions: str, source: int) -> str:
    """Replace rollups from `since` on with sums of the `source` granularity's rows (never
    the organizations' totals), grouped by the bucket and dimensions given."""
    sums = ", ".join(f"SUM({name})" for name in SUM_COLUMNS)
    keys = ", ".join(KEY_COLUMNS)
    replaced = ", ".join(f"{name} = excluded.{name}" for name in SUM_COLUMNS)
    groups = f"org_id, bucket, {dimensions}" if dimensions == "dimensions_id" else "org_id, bucket"
    return (
        f"INSERT INTO usage_rollups ({keys}, {', '.join(SUM_COLUMNS)}) "
        f"SELECT {granularity}, org_id, {bucket} AS bucket, {dimensions}, {sums} "
        f"FROM usage_rollups WHERE granularity = {source} AND bucket_start >= :since "
        f"AND dimensions_id <> {ORGANIZATION_TOTAL} "
        f"GROUP BY {groups} ORDER BY {groups} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {replaced}"
    )


def rebuild_statement(dialect: str, target: int, source: int) -> str:
    """`target` rollups from the sums of their `source` rows, combination by combination."""
    return _replacement(str(target), _truncated(dialect, target), "dimensions_id", source)


def totals_statement(granularity: int) -> str:
    """The organizations' totals from the sums of their rows of that granularity."""
    return _replacement(str(granularity), "bucket_start", str(ORGANIZATION_TOTAL), granularity)


def _floor(moment: datetime, granularity: int) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % granularity, moment.tzinfo)


async def compact(conn: AsyncConnection, now: datetime) -> bool:
    """One run; False when another server's run holds the lock."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        locked = await conn.execute(text(f"SELECT pg_try_advisory_xact_lock({_LOCK_KEY})"))
        if not locked.scalar_one():
            return False
    since = _floor(now - LOOK_BACK, HOUR)
    for target, source, start in ((HOUR, MINUTE, since), (DAY, HOUR, _floor(since, DAY))):
        for sql in (rebuild_statement(dialect, target, source), totals_statement(target)):
            statement = text(sql).bindparams(bindparam("since", type_=DateTime(timezone=True)))
            await conn.execute(statement, {"since": start})
    return True


async def keep_compacting(engine: AsyncEngine, *, interval_s: float) -> None:
    while True:
        try:
            async with engine.begin() as conn:
                await compact(conn, utcnow())
        except (SQLAlchemyError, OSError):
            log.exception("could not rebuild hour and day rollups; will retry")
        await asyncio.sleep(interval_s)
