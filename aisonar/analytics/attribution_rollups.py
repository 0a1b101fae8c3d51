"""Usage summed by end user or by a marked property from the attribution rollups
(`usage.attribution_rollups`): a row per value and hour or day, instead of the events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.store.tables import attribution_rollups
from aisonar.usage.rollups import SUM_COLUMNS


@dataclass(frozen=True)
class RollupQuery:
    """One organization's rows of one dimension (`end_user` or `property:<name>`) in the
    range at one granularity (HOUR or DAY), optionally of one value, summed per value
    ("value"), per bucket ("bucket") or in all (None)."""

    org_id: str
    dimension: str
    granularity: int
    since: datetime
    until: datetime
    value: str | None
    group: Literal["value", "bucket"] | None
    limit: int


async def sum_rollups(
    conn: AsyncConnection, query: RollupQuery
) -> list[tuple[Any, dict[str, int]]]:
    """(group value, sums) per group: a series ordered by time, else by cost, most first,
    cut to the limit; one row for a total, of zeros over no rows."""
    table = attribution_rollups
    sums = [func.sum(table.c[name]).label(name) for name in SUM_COLUMNS]
    group = None if query.group is None else table.c[query.group.replace("bucket", "bucket_start")]
    rows = [
        table.c.granularity == query.granularity,
        table.c.org_id == query.org_id,
        table.c.dimension == query.dimension,
        table.c.bucket_start >= query.since,
        table.c.bucket_start < query.until,
    ]
    if query.value is not None:
        rows.append(table.c.value == query.value)
    statement = select(*([] if group is None else [group.label("group")]), *sums).where(*rows)
    if query.group == "value":
        # The top values by cost first, summing one column; then every sum of theirs
        # alone: an organization's end users can be thousands, each a row a day.
        top = (
            select(table.c.value)
            .where(*rows)
            .group_by(table.c.value)
            .order_by(func.sum(table.c.cost).desc(), table.c.value)
            .limit(bindparam("top", query.limit, type_=Integer))
        )
        statement = statement.where(table.c.value.in_(top.scalar_subquery()))
    if group is not None:
        cost = sums[SUM_COLUMNS.index("cost")]
        order = [group] if query.group == "bucket" else [cost.desc(), group]
        statement = (
            statement.group_by(group)
            .order_by(*order)
            .limit(bindparam("limit", query.limit, type_=Integer))
        )
    found = []
    for row in await conn.execute(statement):
        values = row._mapping
        totals = {name: int(values[name] or 0) for name in SUM_COLUMNS}
        found.append((values["group"] if group is not None else "total", totals))
    return found
