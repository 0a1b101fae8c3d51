"""Usage summed from the rollups: totals, breakdowns by a dimension, and time series, with
error rates, latency and time-to-first-token percentiles and output tokens per second.
A summary of one organization over whole days (or hours, for a property) grouped by end
user or by a property it marks as a dimension, or filtered by one of them alone, reads
the attribution rollups
(`attribution_rollups.py`); any other grouped or filtered by attribution (a session, an
unmarked property, an end user with another filter) reads the raw events
(`attribution.py`), with the same sums."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import (
    DateTime,
    Integer,
    Select,
    bindparam,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.analytics.attribution import EventQuery, sum_events
from aisonar.analytics.attribution_rollups import RollupQuery, sum_rollups
from aisonar.billing.money import format_amount
from aisonar.clock import as_utc, utcnow
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.store.tables import rollup_compaction, rollup_dimensions, usage_rollups
from aisonar.usage.attribution_rollups import (
    END_USER,
    dimension_of,
    granularities,
    marked_properties,
)
from aisonar.usage.compaction import truncated
from aisonar.usage.histogram import percentile
from aisonar.usage.rollups import (
    DAY,
    HOUR,
    LATENCY_COLUMNS,
    MINUTE,
    ORGANIZATION_TOTAL,
    SUM_COLUMNS,
    TTFT_COLUMNS,
)

PERCENTILES = (0.5, 0.9, 0.95, 0.99)
# A property's name as a JSON path can hold it (SQLite quotes it in one).
_PROPERTY_NAME = re.compile(r'[^"\\\x00-\x1f\x7f]{1,64}')
_LONGEST_MINUTE_RANGE = timedelta(days=2)
_LONGEST_HOUR_RANGE = timedelta(days=62)
# The watermark with no compaction run yet: minutes answer for everything.
_BEFORE_ANY_RUN = datetime(1970, 1, 1, tzinfo=UTC)
_TIME = DateTime(timezone=True)


class GroupBy(StrEnum):
    TOTAL = "total"
    MODEL = "model"
    KEY = "key"
    USER = "user"
    ORG = "org"
    PROVIDER = "provider"
    CHANNEL = "channel"
    STATUS = "status"
    SOURCE = "source"
    END_USER = "end_user"
    SESSION = "session"
    PROPERTY = "property"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


_DIMENSION_OF = {
    GroupBy.MODEL: "model",
    GroupBy.KEY: "key_id",
    GroupBy.USER: "user_id",
    GroupBy.ORG: "org_id",
    GroupBy.PROVIDER: "provider",
    GroupBy.CHANNEL: "channel_id",
    GroupBy.STATUS: "status_class",
    GroupBy.SOURCE: "source",
}
# Groupings read from the raw events (analytics/attribution.py), not the rollups.
_ATTRIBUTED = {GroupBy.END_USER: "end_user", GroupBy.SESSION: "session_id"}
_GRANULARITY_OF = {GroupBy.MINUTE: MINUTE, GroupBy.HOUR: HOUR, GroupBy.DAY: DAY}


@dataclass(frozen=True)
class Filters:
    since: datetime
    until: datetime
    org_id: str | None = None
    user_id: str | None = None
    key_id: str | None = None
    model: str | None = None
    provider: str | None = None
    # "2", "4" or "5": the first digit of the HTTP status.
    status_class: str | None = None
    source: str | None = None
    # One query's figures for a page of organizations or users (grouped by them).
    org_ids: tuple[str, ...] | None = None
    user_ids: tuple[str, ...] | None = None
    # Attribution: these, or a grouping by them, read the raw events.
    end_user: str | None = None
    session_id: str | None = None
    # (name, value): events whose custom property `name` is `value`.
    property_equals: tuple[str, str] | None = None
    # The property a grouping by property is by.
    property_name: str | None = None

    @property
    def attributed(self) -> bool:
        return (self.end_user, self.session_id, self.property_equals) != (None, None, None)


@dataclass(frozen=True)
class Summary:
    # The group's value: a model, key id, ..., a bucket's start (ISO 8601), or "total".
    group: str
    requests: int
    errors: int
    error_rate: float
    input_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    # Credits, as a decimal string, and in micro-units.
    cost: str
    cost_units: int
    latency_ms_avg: float | None
    latency_ms_p50: float | None
    latency_ms_p90: float | None
    latency_ms_p95: float | None
    latency_ms_p99: float | None
    # Requests with a time to first token (streamed), which its figures are read from.
    ttft_requests: int
    ttft_ms_avg: float | None
    ttft_ms_p50: float | None
    ttft_ms_p90: float | None
    ttft_ms_p95: float | None
    ttft_ms_p99: float | None
    output_tokens_per_s: float | None


def property_filter(text: str) -> tuple[str, str]:
    """`name=value`, as the command line and the API take a property filter."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise InvalidInput(N_("a property filter is name=value"), param="property")
    return name.strip(), value


def window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The range asked for; by default the 30 days up to the end of today (UTC), which
    whole days' rollups cover."""
    if until is None:
        seconds = int(utcnow().timestamp())
        until = datetime.fromtimestamp(seconds - seconds % DAY + DAY, UTC)
    until = as_utc(until)
    return (as_utc(since) if since is not None else until - timedelta(days=30)), until


def granularity_for(by: GroupBy, since: datetime, until: datetime) -> int:
    """The coarsest rollups that cover the range exactly."""
    if by in _GRANULARITY_OF:
        granularity = _GRANULARITY_OF[by]
        if granularity == MINUTE and until - since > _LONGEST_MINUTE_RANGE:
            raise InvalidInput(N_("a series by minute covers at most 2 days"), param="since")
        if granularity == HOUR and until - since > _LONGEST_HOUR_RANGE:
            raise InvalidInput(N_("a series by hour covers at most 62 days"), param="since")
        if not all(int(t.timestamp()) % granularity == 0 for t in (since, until)):
            raise InvalidInput(
                N_("since and until must fall on whole {value}s"), param="since", value=by.value
            )
        return granularity
    for granularity in (DAY, HOUR):
        if all(int(t.timestamp()) % granularity == 0 for t in (since, until)):
            return granularity
    return MINUTE


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _summary(group: str, sums: dict[str, int]) -> Summary:
    latency = [sums[name] for name in LATENCY_COLUMNS]
    ttft = [sums[name] for name in TTFT_COLUMNS]
    requests, ttft_count = sums["requests"], sums["ttft_count"]
    latency_p = [_rounded(percentile(latency, p)) for p in PERCENTILES]
    ttft_p = [_rounded(percentile(ttft, p)) for p in PERCENTILES]
    generation_s = sums["generation_ms_sum"] / 1000
    return Summary(
        group=group,
        requests=requests,
        errors=sums["errors"],
        error_rate=round(sums["errors"] / requests, 4) if requests else 0.0,
        input_tokens=sums["input_tokens"],
        cached_input_tokens=sums["cached_input_tokens"],
        cache_write_tokens=sums["cache_write_tokens"],
        output_tokens=sums["output_tokens"],
        reasoning_tokens=sums["reasoning_tokens"],
        cost=format_amount(sums["cost"]),
        cost_units=sums["cost"],
        latency_ms_avg=_rounded(sums["latency_ms_sum"] / requests) if requests else None,
        latency_ms_p50=latency_p[0],
        latency_ms_p90=latency_p[1],
        latency_ms_p95=latency_p[2],
        latency_ms_p99=latency_p[3],
        ttft_requests=ttft_count,
        ttft_ms_avg=_rounded(sums["ttft_ms_sum"] / ttft_count) if ttft_count else None,
        ttft_ms_p50=ttft_p[0],
        ttft_ms_p90=ttft_p[1],
        ttft_ms_p95=ttft_p[2],
        ttft_ms_p99=ttft_p[3],
        output_tokens_per_s=_rounded(sums["generated_tokens"] / generation_s)
        if generation_s
        else None,
    )


def _group_label(by: GroupBy, value: Any) -> str:
    if by is GroupBy.TOTAL:
        return "total"
    if by in _GRANULARITY_OF:
        return as_utc(value).isoformat()
    return str(value)


# The filters a statement may have, each a parameter of the same name (a list for the
# last two).
_FILTERS = ("org_id", "user_id", "key_id", "model", "provider", "status_class", "source")
_LISTS = ("org_ids", "user_ids")


@dataclass(frozen=True)
class _Shape:
    """What a summary's statement depends on; the values are its parameters, so that one
    statement (built once, its cache key remembered) serves every range and tenant."""

    by: GroupBy
    granularity: int
    dialect: str
    filters: tuple[str, ...]


def _source(shape: _Shape, source: int, since: Any, until: Any) -> Select[Any]:
    """The sums of one tier's rows (`source`: the granularity's, or minutes) from `since`
    until `until`, per group, a series' minutes put in its buckets."""
    by, granularity = shape.by, shape.granularity
    rollups, dimensions = usage_rollups, rollup_dimensions
    sums = [func.sum(rollups.c[name]).label(name) for name in SUM_COLUMNS]
    if by is GroupBy.TOTAL:
        group: Any = None
    elif by in _GRANULARITY_OF:
        group = rollups.c.bucket_start
        if source != granularity:
            group = literal_column(truncated(shape.dialect, granularity), _TIME)
    else:
        group = dimensions.c[_DIMENSION_OF[by]]
    columns = [*sums] if group is None else [group.label("group"), *sums]
    query = (
        select(*columns)
        .select_from(rollups)
        .where(
            rollups.c.granularity == source,
            rollups.c.bucket_start >= since,
            rollups.c.bucket_start < until,
        )
    )
    if "org_id" in shape.filters:
        query = query.where(rollups.c.org_id == bindparam("org_id"))
    if "org_ids" in shape.filters:
        query = query.where(rollups.c.org_id.in_(bindparam("org_ids", expanding=True)))
    if "user_ids" in shape.filters:
        query = query.where(dimensions.c.user_id.in_(bindparam("user_ids", expanding=True)))
    narrowed = False
    for name in shape.filters:
        if name in _FILTERS[1:]:
            query = query.where(dimensions.c[name] == bindparam(name))
        narrowed = narrowed or name in (*_FILTERS[1:], "user_ids")
    # The dimensions are joined only when a filter or the grouping needs them; otherwise
    # hours and days are read from the organizations' totals, a row per bucket, and a
    # breakdown by model from the organizations' rows per model. Minutes hold only the
    # requests' combinations.
    if source != MINUTE and not narrowed and by is GroupBy.MODEL:
        query = query.join(dimensions, dimensions.c.id == -rollups.c.dimensions_id).where(
            rollups.c.dimensions_id < ORGANIZATION_TOTAL
        )
    elif narrowed or by in _DIMENSION_OF:
        query = query.join(dimensions, dimensions.c.id == rollups.c.dimensions_id)
    elif source != MINUTE:
        query = query.where(rollups.c.dimensions_id == ORGANIZATION_TOTAL)
    return query if group is None else query.group_by(group)


@lru_cache(maxsize=512)
def _statement(shape: _Shape) -> Select[Any]:
    """Every row of the range once: minutes alone for minutes; otherwise hours or days
    before compaction's watermark (they hold exactly the minutes before it) and the
    minutes from it on, read in one statement so that both sides see one watermark.
    Ordered by time for a series, else by cost, most first, and cut to `limit`."""
    since, until = bindparam("since", type_=_TIME), bindparam("until", type_=_TIME)
    if shape.granularity == MINUTE:
        query = _source(shape, MINUTE, since, until)
    else:
        watermark = func.coalesce(
            select(rollup_compaction.c.compacted_through).scalar_subquery(), _BEFORE_ANY_RUN
        )
        # One bound on each side, worked out once: with two, SQLite would take the
        # range's for the index and test every row of it against the watermark (30 days
        # of minutes for the tail).
        later, earlier = (
            (func.greatest, func.least) if shape.dialect == "postgresql" else (func.max, func.min)
        )
        compacted = _source(shape, shape.granularity, since, earlier(until, watermark))
        tail = _source(shape, MINUTE, later(since, watermark), until)
        parts = union_all(compacted, tail).subquery()
        sums = [func.sum(parts.c[name]).label(name) for name in SUM_COLUMNS]
        if shape.by is GroupBy.TOTAL:
            return select(*sums)
        query = select(parts.c.group, *sums).group_by(parts.c.group)
    if shape.by is GroupBy.TOTAL:
        return query
    group, cost = query.selected_columns.group, query.selected_columns.cost
    order = group if shape.by in _GRANULARITY_OF else cost.desc()
    return query.order_by(order).limit(bindparam("limit", type_=Integer))


async def summarize(
    conn: AsyncConnection,
    filters: Filters,
    by: GroupBy,
    *,
    limit: int = 100,
    granularity: int | None = None,
) -> list[Summary]:
    """Groups ordered by time for a series, else by cost, most first (top N). The rollups
    read are the coarsest that cover the range, unless `granularity` names them, with the
    minutes compaction has not covered yet: every event counts from the moment it is
    written."""
    if filters.until <= filters.since:
        raise InvalidInput(N_("until must come after since"), param="until")
    if by is GroupBy.PROPERTY and not filters.property_name:
        raise InvalidInput(N_("a breakdown by property names the property"), param="property_name")
    for name, param in (
        (filters.property_name, "property_name"),
        (filters.property_equals and filters.property_equals[0], "property"),
    ):
        if name is not None and not _PROPERTY_NAME.fullmatch(name):
            raise InvalidInput(
                N_(
                    "a property name is 1 to 64 printable characters, without quotes or backslashes"
                ),
                param=param,
            )
    granularity = granularity or granularity_for(by, filters.since, filters.until)
    if filters.attributed or by in _ATTRIBUTED or by is GroupBy.PROPERTY:
        query = await _rollup_query(conn, filters, by, limit, granularity)
        if query is not None:
            return _summaries(by, await sum_rollups(conn, query))
        return await _summarize_events(conn, filters, by, limit, granularity)
    values: dict[str, Any] = {"since": filters.since, "until": filters.until, "limit": limit}
    for name in (*_FILTERS, *_LISTS):
        value = getattr(filters, name)
        if value is not None:
            values[name] = list(value) if name in _LISTS else value
    shape = _Shape(
        by,
        granularity,
        conn.dialect.name,
        tuple(name for name in values if name not in ("since", "until", "limit")),
    )
    found = []
    for row in await conn.execute(_statement(shape), values):
        sums = row._mapping
        if sums["requests"] is None:  # a total over no rows
            continue
        totals = {name: int(sums[name]) for name in SUM_COLUMNS}
        found.append(_summary(_group_label(by, sums.get("group")), totals))
    if by is GroupBy.TOTAL and not found:
        found.append(_summary("total", dict.fromkeys(SUM_COLUMNS, 0)))
    return found


# Filters the attribution rollups have no dimension for.
_NOT_ROLLED_UP = (*_FILTERS[1:], *_LISTS, "session_id")


async def _rollup_query(
    conn: AsyncConnection, filters: Filters, by: GroupBy, limit: int, granularity: int
) -> RollupQuery | None:
    """The attribution rollups' query that answers the summary, if they can: one
    organization, whole days (whole hours for a property), grouped by end user or a
    marked property, or a total or series of one end user or of one value of a marked
    property (not "": the requests without one are kept apart in the rollups, but filter
    nothing among the events)."""
    org_id = filters.org_id
    if org_id is None or granularity not in (HOUR, DAY):
        return None
    if any(getattr(filters, name) is not None for name in _NOT_ROLLED_UP):
        return None
    selected: list[tuple[str, str | None]] = []
    marked = (await marked_properties(conn, [org_id])).get(org_id, ())
    if filters.end_user is not None or by is GroupBy.END_USER:
        selected.append((END_USER, filters.end_user))
    if filters.property_equals is not None:
        name, equals = filters.property_equals
        if name not in marked or (by is GroupBy.PROPERTY and name != filters.property_name):
            return None
        selected.append((dimension_of(name), equals))
    elif by is GroupBy.PROPERTY:
        if filters.property_name not in marked:
            return None
        selected.append((dimension_of(filters.property_name or ""), None))
    grouped = by in (GroupBy.END_USER, GroupBy.PROPERTY)
    if len(selected) != 1 or not (grouped or by is GroupBy.TOTAL or by in _GRANULARITY_OF):
        return None
    (dimension, value), *_ = selected
    if value == "" or (value is None and not grouped):
        return None
    if granularity not in granularities(dimension):
        return None
    group: Literal["value", "bucket"] | None = (
        "value" if grouped else None if by is GroupBy.TOTAL else "bucket"
    )
    return RollupQuery(
        org_id, dimension, granularity, filters.since, filters.until, value, group, limit
    )


def _summaries(by: GroupBy, found: list[tuple[Any, dict[str, int]]]) -> list[Summary]:
    summaries = [
        _summary(_group_label(by, value), sums)
        for value, sums in found
        if sums["requests"] or by is GroupBy.TOTAL
    ]
    if by is GroupBy.TOTAL and not summaries:
        summaries.append(_summary("total", dict.fromkeys(SUM_COLUMNS, 0)))
    return summaries


async def _summarize_events(
    conn: AsyncConnection, filters: Filters, by: GroupBy, limit: int, granularity: int
) -> list[Summary]:
    """A summary that groups or filters by attribution, from the raw events."""
    equal = {
        name: value
        for name in (*_FILTERS, "end_user", "session_id")
        if name != "status_class" and (value := getattr(filters, name)) is not None
    }
    within = {name: value for name in _LISTS if (value := getattr(filters, name)) is not None}
    group: str | int | None
    if by is GroupBy.TOTAL:
        group = None
    elif by in _GRANULARITY_OF:
        group = granularity
    elif by is GroupBy.PROPERTY:
        group = f"property:{filters.property_name}"
    else:
        group = _ATTRIBUTED.get(by) or _DIMENSION_OF[by]
    query = EventQuery(
        since=filters.since,
        until=filters.until,
        equal=equal,
        within={name[:-1]: values for name, values in within.items()},
        status_class=filters.status_class,
        property_equals=filters.property_equals,
        group=group,
        limit=limit,
    )
    return _summaries(by, await sum_events(conn, query))


async def summaries_of(
    conn: AsyncConnection, filters: Filters, by: GroupBy, groups: Sequence[str]
) -> dict[str, Summary]:
    """Each named group's figures in one query (`filters` narrowed to them, as `org_ids`
    or `user_ids`), the figures of no usage for a group without any."""
    found = (
        {}
        if not groups
        else {
            summary.group: summary
            for summary in await summarize(conn, filters, by, limit=len(groups))
        }
    )
    nothing = dict.fromkeys(SUM_COLUMNS, 0)
    return {group: found.get(group) or _summary(group, nothing) for group in groups}
