"""Usage export: stream usage events as CSV, JSON Lines or Parquet without loading them
all. The columns are usage_events' own (typed as the table types them), then the
derived first-byte and end times."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.clock import as_utc
from aisonar.exports import export_rows
from aisonar.store.tables import usage_events
from aisonar.usage.models import USAGE_COLUMNS

EXPORT_COLUMNS: tuple[Column[Any], ...] = (
    *(usage_events.c[name] for name in USAGE_COLUMNS),
    Column("first_byte_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True), nullable=False),
)
_TIME_COLUMNS = [name for name in USAGE_COLUMNS if isinstance(usage_events.c[name].type, DateTime)]


def _normalized(row: Any) -> dict[str, Any]:
    record = dict(zip(USAGE_COLUMNS, row, strict=True))
    for name in _TIME_COLUMNS:
        if record[name] is not None:
            record[name] = as_utc(record[name])
    started, ttft_ms = record["started_at"], record["ttft_ms"]
    record["first_byte_at"] = None if ttft_ms is None else started + timedelta(milliseconds=ttft_ms)
    record["ended_at"] = started + timedelta(milliseconds=record["latency_ms"])
    return record


def export_usage(
    conn: AsyncConnection,
    *,
    fmt: str,
    org_id: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    requested_model: str | None = None,
    status_class: str | None = None,
    end_user: str | None = None,
    session_id: str | None = None,
) -> AsyncIterator[bytes]:
    """The events, oldest first; `requested_model`, `status_class` (the first digit of
    the HTTP status), `end_user` and `session_id` filter as the usage log does."""
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
    if requested_model is not None:
        query = query.where(usage_events.c.requested_model == requested_model)
    if end_user is not None:
        query = query.where(usage_events.c.end_user == end_user)
    if session_id is not None:
        query = query.where(usage_events.c.session_id == session_id)
    if status_class is not None:
        low = int(status_class) * 100
        query = query.where(
            usage_events.c.status_code >= low, usage_events.c.status_code < low + 100
        )
    return export_rows(conn, query, _normalized, EXPORT_COLUMNS, fmt)
