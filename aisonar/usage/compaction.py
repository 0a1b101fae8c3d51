"""Hours and days rebuilt from minutes, up to a watermark that says exactly what they
hold. `rollup_compaction.compacted_through` (W): the hour and day rollups hold the sums
of every minute before W, and of none from W on. Each run moves W to the end of the
last whole minute (never back), replaces the hour rollups from the hour of the previous
W on with the sums of their minutes before the new W, and the day rollups of those days
with the sums of their hours; then each organization's use of each model per hour and
day (`rollups.model_tier`), and its total (`ORGANIZATION_TOTAL`) from those.

The writer adds an event to its minute only (one upsert per combination instead of
three), unless its minute is before W, which it then adds to its hour and day too, in
the transaction that reads W. So readers take hours and days before W and minutes from
W on (`analytics.summary`), and every event is counted once, as soon as it is written.

On PostgreSQL the writers read W under a shared advisory lock that each run takes
exclusively before moving it, so no writer adds a minute before the new W that the run
does not see. SQLite's single writer does the same. Servers sharing a database may all
run it: each run is a replacement, so running twice changes nothing; another
transaction-scoped advisory lock lets one run at a time on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.clock import as_utc, utcnow
from aisonar.store.tables import rollup_compaction
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
_LOCK_KEY = 0x5AD0_0001
# Held shared by each writer's transaction while it reads W and adds to the rollups,
# exclusively by a run while it moves W and rebuilds.
WATERMARK_LOCK_KEY = 0x5AD0_0002
_WATERMARK_ROW = 1
_EVER = datetime(1970, 1, 1, tzinfo=UTC)


def truncated(dialect: str, granularity: int) -> str:
    """SQL for the start of the hour or day of a row's `bucket_start`."""
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
    """`target` rollups from `since` on from the sums of their `source` rows before
    `through`, combination by combination (the requests' combinations only)."""
    bucket = truncated(dialect, target)
    return _upsert(
        f"SELECT {target}, org_id, {bucket} AS bucket, dimensions_id, {_sums()} "
        f"FROM usage_rollups WHERE granularity = {source} AND bucket_start >= :since "
        "AND bucket_start < :through "
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
        "AND r.bucket_start < :through ON CONFLICT DO NOTHING"
    )
    summed = _upsert(
        f"SELECT {granularity}, r.org_id, r.bucket_start, -t.id, {_sums('r')} "
        "FROM usage_rollups r JOIN rollup_dimensions d ON d.id = r.dimensions_id "
        f"JOIN rollup_dimensions t ON {_TIER_OF_ROW} "
        f"WHERE r.granularity = {granularity} AND r.bucket_start >= :since "
        "AND r.bucket_start < :through GROUP BY r.org_id, r.bucket_start, t.id "
        "ORDER BY r.org_id, r.bucket_start, t.id"
    )
    return numbered, summed


def totals_statement(granularity: int) -> str:
    """The organizations' totals from the sums of their organization-and-model rows."""
    return _upsert(
        f"SELECT {granularity}, org_id, bucket_start, {ORGANIZATION_TOTAL}, {_sums()} "
        f"FROM usage_rollups WHERE granularity = {granularity} AND bucket_start >= :since "
        "AND bucket_start < :through AND dimensions_id < 0 GROUP BY org_id, bucket_start "
        "ORDER BY org_id, bucket_start"
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


def floor(moment: datetime, granularity: int) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % granularity, UTC)


def bound(sql: str) -> Any:
    """A statement of this module with its time parameters typed."""
    time = DateTime(timezone=True)
    return text(sql).bindparams(bindparam("since", type_=time), bindparam("through", type_=time))


async def compacted_through(conn: AsyncConnection) -> datetime | None:
    """W, as this transaction sees it (None before any run)."""
    found = await conn.scalar(select(rollup_compaction.c.compacted_through))
    return None if found is None else as_utc(found)


async def lock_watermark_shared(conn: AsyncConnection) -> None:
    """For a writer's transaction on PostgreSQL, before it reads W (SQLite's writers are
    one at a time already)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"SELECT pg_advisory_xact_lock_shared({WATERMARK_LOCK_KEY})"))


async def _moved_watermark(conn: AsyncConnection, candidate: datetime) -> datetime:
    """W moved to `candidate` unless already later; its new value. On SQLite this write
    comes first, so that the run holds the write lock from here on."""
    table = rollup_compaction
    later = text(
        "CASE WHEN excluded.compacted_through > rollup_compaction.compacted_through "
        "THEN excluded.compacted_through ELSE rollup_compaction.compacted_through END"
    )
    insert = (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(table)
    await conn.execute(
        insert.values(id=_WATERMARK_ROW, compacted_through=candidate).on_conflict_do_update(
            index_elements=[table.c.id], set_={"compacted_through": later}
        )
    )
    moved = await compacted_through(conn)
    assert moved is not None
    return moved


async def compact(conn: AsyncConnection, now: datetime) -> bool:
    """One run, through the minutes that ended by `now`; False when another server's run
    holds the lock."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        locked = await conn.execute(text(f"SELECT pg_try_advisory_xact_lock({_LOCK_KEY})"))
        if not locked.scalar_one():
            return False
        await conn.execute(text(f"SELECT pg_advisory_xact_lock({WATERMARK_LOCK_KEY})"))
    previous = await compacted_through(conn)
    through = await _moved_watermark(conn, floor(now, MINUTE))
    since = floor(previous or _EVER, HOUR)
    for target, source, start in ((HOUR, MINUTE, since), (DAY, HOUR, floor(since, DAY))):
        for sql in summary_statements(dialect, target, source):
            await conn.execute(bound(sql), {"since": start, "through": through})
    return True


async def keep_compacting(engine: AsyncEngine, *, interval_s: float) -> None:
    while True:
        try:
            async with engine.begin() as conn:
                await compact(conn, utcnow())
        except (SQLAlchemyError, OSError):
            log.exception("could not rebuild hour and day rollups; will retry")
        await asyncio.sleep(interval_s)


async def compact_on_stopping(engine: AsyncEngine) -> None:
    """A run through the current minute, once the server's writer has flushed, so that
    hours and days hold all it wrote even if no other server runs one. (Servers still
    running add their events of this minute to hours and days themselves: W is past it.)
    When another server's run holds the lock, that run or the next covers it."""
    try:
        async with engine.begin() as conn:
            await compact(conn, utcnow() + timedelta(seconds=MINUTE))
    except (SQLAlchemyError, OSError):
        log.exception("could not fold the last usage into hour and day rollups")
