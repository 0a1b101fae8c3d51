"""PostgreSQL keeps raw usage events in one partition per UTC day of `started_at`, so that
expiry drops whole days instead of deleting rows. Days are created a week ahead (at
start-up and by every retention run); an event with no day of its own (older than the
first day created, or after a long outage) lands in the default partition, from which
retention deletes row by row as before.

A day is dropped once it is past the longest window any organization keeps (shorter
windows are still met by deleting rows inside the days). Creating or dropping a day
takes a brief exclusive lock on the table; a lock timeout keeps it from queueing in
front of the usage writer behind a long read, and the next run tries again."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

TABLE = "usage_events"
DEFAULT_PARTITION = f"{TABLE}_default"
DAYS_AHEAD = 7
_DAY_PARTITION = re.compile(rf"^{TABLE}_p(\d{{8}})$")
_LOCK_KEY = 0x5AD0_0002
_LOCK_TIMEOUT = "2s"


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


async def partitioned(conn: AsyncConnection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    found = await conn.execute(
        text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:table)"),
        {"table": TABLE},
    )
    return found.first() is not None


async def day_partitions(conn: AsyncConnection) -> dict[date, str]:
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:table)"
        ),
        {"table": TABLE},
    )
    days = {}
    for (name,) in rows:
        if match := _DAY_PARTITION.match(name):
            days[datetime.strptime(match[1], "%Y%m%d").date()] = name
    return days


async def _default_holds(conn: AsyncConnection, day: date) -> bool:
    """Whether the default partition has events of that day (PostgreSQL then refuses
    the day's partition: they stay in the default one)."""
    found = await conn.execute(
        text(
            f"SELECT 1 FROM {DEFAULT_PARTITION} "
            "WHERE started_at >= :start AND started_at < :end LIMIT 1"
        ),
        {"start": _midnight(day), "end": _midnight(day + timedelta(days=1))},
    )
    return found.first() is not None


async def _locked(conn: AsyncConnection) -> None:
    await conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})"))
    await conn.execute(text(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'"))


async def ensure_partitions(engine: AsyncEngine, today: date, days_ahead: int = DAYS_AHEAD) -> int:
    """Create the partitions of `today` and the days after it that are missing; returns
    how many were created."""
    created = 0
    try:
        async with engine.begin() as conn:
            if not await partitioned(conn):
                return 0
            await _locked(conn)
            existing = await day_partitions(conn)
            for offset in range(days_ahead + 1):
                day = today + timedelta(days=offset)
                if day in existing or await _default_holds(conn, day):
                    continue
                await conn.execute(
                    text(
                        f"CREATE TABLE {partition_name(day)} PARTITION OF {TABLE} "
                        f"FOR VALUES FROM ('{_midnight(day).isoformat()}') "
                        f"TO ('{_midnight(day + timedelta(days=1)).isoformat()}')"
                    )
                )
                created += 1
    except DBAPIError:
        log.warning("could not create usage partitions now; will retry", exc_info=True)
        return 0
    return created


async def drop_partitions_before(engine: AsyncEngine, cutoff: datetime) -> int:
    """Drop the days that end at or before `cutoff`; returns how many were dropped."""
    dropped = 0
    try:
        async with engine.begin() as conn:
            if not await partitioned(conn):
                return 0
            await _locked(conn)
            for day, name in sorted((await day_partitions(conn)).items()):
                if _midnight(day + timedelta(days=1)) > cutoff:
                    break
                await conn.execute(text(f"DROP TABLE {name}"))
                dropped += 1
    except DBAPIError:
        log.warning("could not drop expired usage partitions now; will retry", exc_info=True)
        return 0
    return dropped
