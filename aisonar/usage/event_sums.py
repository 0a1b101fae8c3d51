"""SQL that sums raw usage events the way the rollups sum them (`rollups.add_event`), the
latency and time-to-first-token histograms included: for summaries read from the events
(`analytics.attribution`) and for rebuilding the attribution rollups from them
(`attribution_rollups`)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column

from aisonar.store.tables import usage_events
from aisonar.usage.histogram import BOUNDS_MS
from aisonar.usage.rollups import DAY, HOUR, MINUTE, SUM_COLUMNS


def property_value(name: str) -> ColumnElement[Any]:
    """An event's custom property `name`, as text (null when it has none)."""
    value: ColumnElement[Any] = usage_events.c.properties[name].as_string()
    return value


def _bucketed(column: Any) -> list[ColumnElement[Any]]:
    """One count per histogram bucket (`histogram.bucket_of`), for a millisecond column."""
    edges = (None, *BOUNDS_MS, None)
    counts: list[ColumnElement[Any]] = []
    for lower, upper in pairwise(edges):
        conditions = [column.is_not(None)]
        if lower is not None:
            conditions.append(column >= lower)
        if upper is not None:
            conditions.append(column < upper)
        counts.append(func.sum(case((and_(*conditions), 1), else_=0)))
    return counts


def event_sums() -> list[ColumnElement[Any]]:
    """The rollups' sums (`SUM_COLUMNS`, labelled so) over the selected events."""
    e = usage_events.c
    generating = and_(e.ttft_ms.is_not(None), e.output_tokens > 0, e.latency_ms > e.ttft_ms)
    sums: list[ColumnElement[Any]] = [
        func.count(),
        func.sum(case((e.status_code >= 400, 1), else_=0)),
        func.sum(e.input_tokens),
        func.sum(e.cached_input_tokens),
        func.sum(e.cache_write_tokens),
        func.sum(e.output_tokens),
        func.sum(e.reasoning_tokens),
        func.sum(e.cost),
        func.sum(e.latency_ms),
        func.coalesce(func.sum(e.ttft_ms), 0),
        func.count(e.ttft_ms),
        func.sum(case((generating, e.latency_ms - e.ttft_ms), else_=0)),
        func.sum(case((generating, e.output_tokens), else_=0)),
        *_bucketed(e.latency_ms),
        *_bucketed(e.ttft_ms),
    ]
    return [total.label(name) for total, name in zip(sums, SUM_COLUMNS, strict=True)]


def bucket_start(dialect: str, granularity: int) -> ColumnElement[Any]:
    """The start of an event's minute, hour or day."""
    if dialect == "sqlite":
        # SQLAlchemy stores DateTime on SQLite as "YYYY-MM-DD HH:MM:SS.ffffff" text.
        kept, rest = {MINUTE: (16, ":00.000000"), HOUR: (13, ":00:00.000000")}.get(
            granularity, (10, " 00:00:00.000000")
        )
        sql = f"substr(started_at, 1, {kept}) || '{rest}'"
    else:
        unit = {MINUTE: "minute", HOUR: "hour", DAY: "day"}[granularity]
        sql = f"date_trunc('{unit}', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return literal_column(sql)
