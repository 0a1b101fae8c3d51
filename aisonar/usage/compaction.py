"""Hours and days rebuilt from minutes: every run replaces the hour rollups of the last
few hours with the sums of their minutes, and the day rollups of the days those hours
fall in with the sums of their hours, in SQL; then each organization's use of each model
per hour and day (`rollups.model_tier`), and its total (`ORGANIZATION_TOTAL`) from
those. The writer adds only to minutes (one upsert
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
    DIMENSIONS,
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


_KEYS = ", ".join(KEY_COLUMNS)
_REPLACED = ", ".join(f"{name} = excluded.{name}" for name in SUM_COLUMNS)
# The combination standing for a row's organization and model (`rollups.model_tier`).
_TIER_OF_ROW = " AND ".join(
    f"t.{name} = d.{name}" if name in ("org_id", "model") else f"t.{name} = ''"
    for name in DIMENSIONS
)


def _sums(table: str = "") -> str:
    prefix = f"{table}." if table else ""
    return ", ".join(f"SUM({prefix}{name})" for name in SUM_COLUMNS)


def _upsert(select: str) -> str:
    return (
        f"INSERT INTO usage_rollups ({_KEYS}, {', '.join(SUM_COLUMNS)}) {select} "
        f"ON CONFLICT ({_KEYS}) DO UPDATE SET {_REPLACED}"
    )


def rebuild_statement(dialect: str, target: int, source: int) -> str:
    """`target` rollups from `since` on from the sums of their `source` rows, combination
    by combination (the requests' combinations only)."""
    bucket = _truncated(dialect, target)
    return _upsert(
        f"SELECT {target}, org_id, {bucket} AS bucket, dimensions_id, {_sums()} "
        f"FROM usage_rollups WHERE granularity = {source} AND bucket_start >= :since "
        "AND dimensions_id > 0 GROUP BY org_id, bucket, dimensions_id "
        "ORDER BY org_id, bucket, dimensions_id"
    )


def model_tier_statements(granularity: int) -> tuple[str, str]:
    """Number the organization-and-model combinations of the rows from `since` on, then
    replace their sums (under the negated number) with those of the rows."""
    numbered = (
        f"INSERT INTO rollup_dimensions ({', '.join(DIMENSIONS)}) "
        f"SELECT DISTINCT d.org_id, '', '', d.model, '', '', '', '' "
        f"FROM usage_rollups r JOIN rollup_dimensions d ON d.id = r.dimensions_id "
        f"WHERE r.granularity = {granularity} AND r.bucket_start >= :since "
        "ON CONFLICT DO NOTHING"
    )
    summed = _upsert(
        f"SELECT {granularity}, r.org_id, r.bucket_start, -t.id, {_sums('r')} "
        "FROM usage_rollups r JOIN rollup_dimensions d ON d.id = r.dimensions_id "
        f"JOIN rollup_dimensions t ON {_TIER_OF_ROW} "
        f"WHERE r.granularity = {granularity} AND r.bucket_start >= :since "
        "GROUP BY r.org_id, r.bucket_start, t.id ORDER BY r.org_id, r.bucket_start, t.id"
    )
    return numbered, summed


def totals_statement(granularity: int) -> str:
    """The organizations' totals from the sums of their organization-and-model rows."""
    return _upsert(
        f"SELECT {granularity}, org_id, bucket_start, {ORGANIZATION_TOTAL}, {_sums()} "
        f"FROM usage_rollups WHERE granularity = {granularity} AND bucket_start >= :since "
        "AND dimensions_id < 0 GROUP BY org_id, bucket_start ORDER BY org_id, bucket_start"
    )


def summary_statements(dialect: str, target: int, source: int) -> list[str]:
    """Everything of `target` granularity from `since` on, rebuilt in order: the
    combinations' rows from `source`, then the organization-and-model rows from those,
    then the organizations' totals from those."""
    return [
        rebuild_statement(dialect, target, source),
        *model_tier_statements(target),
        totals_statement(target),
    ]


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
        for sql in summary_statements(dialect, target, source):
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
