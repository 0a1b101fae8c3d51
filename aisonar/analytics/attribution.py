"""Usage summed by attribution (end user, session, a custom property) from the raw events.

The rollups stay bounded: an end user, a session or a property's value is not one of
their dimensions, as each would multiply their rows by as many values as an application
has users, conversations or tags. A summary that groups or filters by one reads the
organization's events in the range instead, through the indexes on (organization, end
user, time) and (organization, session, time), with the same sums the rollups keep
(the latency and time-to-first-token histograms included), so that its figures read like
any other summary's. Raw events last as long as the organization's retention."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.store.tables import usage_events
from aisonar.usage.event_sums import bucket_start, event_sums, property_value
from aisonar.usage.rollups import SUM_COLUMNS

_EVENT_COLUMN = {
    "org_id": "org_id",
    "user_id": "user_id",
    "key_id": "key_id",
    "model": "requested_model",
    "provider": "provider",
    "channel_id": "channel_id",
    "source": "source",
    "end_user": "end_user",
    "session_id": "session_id",
}


@dataclass(frozen=True)
class EventQuery:
    """What to sum: the range, equality filters by rollup dimension name (or end_user,
    session_id), lists of organizations or users, a property's value, and the grouping: a
    dimension, `property:<name>`, a granularity in seconds for a series, or None for a
    total."""

    since: datetime
    until: datetime
    equal: Mapping[str, str]
    within: Mapping[str, Sequence[str]]
    status_class: str | None
    property_equals: tuple[str, str] | None
    group: str | int | None
    limit: int


def _grouping(query: EventQuery, dialect: str) -> ColumnElement[Any] | None:
    if query.group is None:
        return None
    if isinstance(query.group, int):
        return bucket_start(dialect, query.group)
    if query.group.startswith("property:"):
        return func.coalesce(property_value(query.group.removeprefix("property:")), "")
    if query.group == "status_class":
        status_class: ColumnElement[Any] = usage_events.c.status_code // 100
        return status_class
    return func.coalesce(usage_events.c[_EVENT_COLUMN[query.group]], "")


async def sum_events(conn: AsyncConnection, query: EventQuery) -> list[tuple[Any, dict[str, int]]]:
    """(group value, sums) per group: a series ordered by time, else by cost, most first,
    cut to the limit; one row for a total, of zeros over no events."""
    e = usage_events.c
    group = _grouping(query, conn.dialect.name)
    sums = event_sums()
    statement = select(*([] if group is None else [group.label("group")]), *sums).where(
        e.started_at >= query.since, e.started_at < query.until
    )
    for name, equal in query.equal.items():
        statement = statement.where(e[_EVENT_COLUMN[name]] == equal)
    for name, values in query.within.items():
        statement = statement.where(e[_EVENT_COLUMN[name]].in_(list(values)))
    if query.status_class is not None:
        low = int(query.status_class) * 100
        statement = statement.where(e.status_code >= low, e.status_code < low + 100)
    if query.property_equals is not None:
        name, wanted = query.property_equals
        statement = statement.where(property_value(name) == wanted)
    if group is not None:
        # By position: PostgreSQL takes an expression with bound values (a property's
        # name) in GROUP BY as another than the selected one.
        first: ColumnElement[Any] = literal_column("1")
        cost = sums[SUM_COLUMNS.index("cost")]
        order = first if isinstance(query.group, int) else cost.desc()
        statement = statement.group_by(first).order_by(order).limit(query.limit)
    found = []
    for row in await conn.execute(statement):
        found_sums = row._mapping
        totals = {name: int(found_sums[name] or 0) for name in SUM_COLUMNS}
        value: Any = found_sums["group"] if group is not None else "total"
        if isinstance(query.group, int) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        found.append((value, totals))
    return found
