"""Usage export: stream usage events as CSV or JSONL without loading them all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.clock import as_utc
from aisonar.exports import encode_records
from aisonar.store.tables import usage_events
from aisonar.usage.models import USAGE_COLUMNS

EXPORT_COLUMNS = (*USAGE_COLUMNS, "first_byte_at", "ended_at")
_FETCH_ROWS = 1000


def _normalized(row: Any) -> dict[str, Any]:
    record = dict(zip(USAGE_COLUMNS, row, strict=True))
    started = as_utc(record["started_at"])
    ttft_ms = record["ttft_ms"]
    record["started_at"] = started.isoformat()
    record["first_byte_at"] = (
        None if ttft_ms is None else (started + timedelta(milliseconds=ttft_ms)).isoformat()
    )
    record["ended_at"] = (started + timedelta(milliseconds=record["latency_ms"])).isoformat()
    return record


def export_usage(
    conn: AsyncConnection,
    *,
    fmt: str,
    org_id: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AsyncIterator[str]:
    query = select(*(usage_events.c[name] for name in USAGE_COLUMNS)).order_by(
        usage_events.c.started_at, usage_events.c.id
    )
    if org_id is not None:
        query = query.where(usage_events.c.org_id == org_id)
    if user_id is not None:
        query = query.where(usage_events.c.user_id == user_id)
    if since is not None:
        query = query.where(usage_events.c.started_at >= since)
    if until is not None:
        query = query.where(usage_events.c.started_at < until)
    return encode_records(_records(conn, query), EXPORT_COLUMNS, fmt)


async def _records(conn: AsyncConnection, query: Select[Any]) -> AsyncIterator[dict[str, Any]]:
    result = await conn.stream(query.execution_options(yield_per=_FETCH_ROWS))
    async for row in result:
        yield _normalized(row)
