"""Rollups: usage summed per minute, hour and day for every combination of organization,
user, key, model, provider, channel, status class and source, so that dashboards never
read raw rows. The usage writer adds each batch to its minutes in the transaction that
writes the raw events, and to its hour and day too when compaction has already covered
its minute; hours and days are rebuilt from the minutes (`compaction`).

Each combination is a row of `rollup_dimensions`, numbered once and remembered; the
sums are upserted on (granularity, organization, bucket, combination), a narrow key
that keeps a batch's upserts cheap. A dimension a request lacks is ""."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.store.engine import placeholders
from aisonar.store.tables import ROLLUP_DIMENSIONS, ROLLUP_SUMS, rollup_dimensions
from aisonar.usage.histogram import BUCKETS, bucket_of
from aisonar.usage.models import UsageEvent

MINUTE, HOUR, DAY = 60, 3600, 86400
GRANULARITIES = (MINUTE, HOUR, DAY)
DIMENSIONS = ROLLUP_DIMENSIONS
SUM_COLUMNS = ROLLUP_SUMS
LATENCY_COLUMNS = tuple(f"latency_b{index:02d}" for index in range(BUCKETS))
TTFT_COLUMNS = tuple(f"ttft_b{index:02d}" for index in range(BUCKETS))
KEY_COLUMNS = ("granularity", "org_id", "bucket_start", "dimensions_id")
ROLLUP_COLUMNS = (*KEY_COLUMNS, *SUM_COLUMNS)
_LATENCY_AT = SUM_COLUMNS.index(LATENCY_COLUMNS[0])
_TTFT_AT = SUM_COLUMNS.index(TTFT_COLUMNS[0])
# The `dimensions_id` of an organization's total per hour and day: every combination
# summed, so that its series (and the installation's) read one row per bucket.
ORGANIZATION_TOTAL = 0
# An organization's use of one model per hour and day (every other dimension summed) is
# kept too, under the negated id of the combination `model_tier` names, so that a
# breakdown by model reads a row per organization, model and bucket. Negative ids join
# no dimension row, so nothing that joins the dimensions counts them twice.
# Dimension combinations remembered per writer; beyond it the table is asked again.
_REMEMBERED = 200_000

Dimensions = tuple[str, ...]
# (granularity, bucket start in epoch seconds, dimensions) -> sums
Sums = dict[tuple[int, int, Dimensions], list[int]]


def _dimensions(event: UsageEvent) -> Dimensions:
    return (
        event.org_id or "",
        event.user_id or "",
        event.key_id or "",
        event.requested_model or "",
        event.provider or "",
        event.channel_id or "",
        str(event.status_code // 100),
        event.source,
    )


def model_tier(dimensions: Dimensions) -> Dimensions:
    """The combination that stands for the organization and model of `dimensions`: every
    other dimension "", which no request has (each has a status class and a source)."""
    return (dimensions[0], "", "", dimensions[3], "", "", "", "")


def is_model_tier(dimensions: Dimensions) -> bool:
    return dimensions[6] == ""


def add_event(sums: list[int], event: UsageEvent) -> None:
    sums[0] += 1
    sums[1] += event.status_code >= 400
    sums[2] += event.input_tokens
    sums[3] += event.cached_input_tokens
    sums[4] += event.cache_write_tokens
    sums[5] += event.output_tokens
    sums[6] += event.reasoning_tokens
    sums[7] += event.cost
    sums[8] += event.latency_ms
    sums[_LATENCY_AT + bucket_of(event.latency_ms)] += 1
    if event.ttft_ms is not None:
        sums[9] += event.ttft_ms
        sums[10] += 1
        sums[_TTFT_AT + bucket_of(event.ttft_ms)] += 1
        if event.output_tokens and event.latency_ms > event.ttft_ms:
            sums[11] += event.latency_ms - event.ttft_ms
            sums[12] += event.output_tokens


def aggregate(events: Iterable[UsageEvent]) -> Sums:
    """The events summed per minute."""
    minutes: Sums = {}
    width = len(SUM_COLUMNS)
    for event in events:
        seconds = int(event.started_at.timestamp())
        key = (MINUTE, seconds - seconds % MINUTE, _dimensions(event))
        row = minutes.get(key)
        if row is None:
            row = minutes[key] = [0] * width
        add_event(row, event)
    return minutes


def with_compacted(minutes: Sums, compacted_through: int) -> Sums:
    """The minutes' sums, and those of minutes before `compacted_through` (epoch seconds:
    compaction's watermark, which hours and days already cover) added to their hour and
    day too: the combination's row, its organization and model's, and its
    organization's."""
    sums = dict(minutes)
    for (_, start, dimensions), row in minutes.items():
        if start >= compacted_through:
            continue
        for granularity in (HOUR, DAY):
            bucket = start - start % granularity
            for key in (
                (granularity, bucket, dimensions),
                (granularity, bucket, model_tier(dimensions)),
                (granularity, bucket, dimensions[:1]),
            ):
                _add_row(sums, key, row)
    return sums


def merged(parts: list[Sums]) -> Sums:
    """The sums of several groups of events, as if aggregated together."""
    total: Sums = {}
    for sums in parts:
        for key, row in sums.items():
            _add_row(total, key, row)
    return total


def _add_row(sums: Sums, key: tuple[int, int, Dimensions], row: list[int]) -> None:
    total = sums.get(key)
    if total is None:
        sums[key] = list(row)
    else:
        for index, value in enumerate(row):
            total[index] += value


def upsert_statement(sqlite_placeholders: bool) -> str:
    columns = ", ".join(ROLLUP_COLUMNS)
    values = placeholders(len(ROLLUP_COLUMNS), sqlite_placeholders)
    additions = ", ".join(
        f"{name} = usage_rollups.{name} + excluded.{name}" for name in SUM_COLUMNS
    )
    return (
        f"INSERT INTO usage_rollups ({columns}) VALUES ({values}) "
        f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {additions}"
    )


class DimensionIds:
    """Numbers dimension combinations: from memory, or the table, adding new ones."""

    def __init__(self, dialect: str) -> None:
        table: Table = rollup_dimensions
        columns = [table.c[name] for name in DIMENSIONS]
        insert = (sqlite if dialect == "sqlite" else postgresql).insert(table)
        # A no-op update, so that existing rows are returned with their ids too.
        self._upsert = insert.on_conflict_do_update(
            index_elements=columns, set_={"org_id": insert.excluded.org_id}
        ).returning(table.c.id, *columns, sort_by_parameter_order=True)
        self._ids: dict[Dimensions, int] = {}

    async def resolve(
        self, conn: AsyncConnection, combinations: Iterable[Dimensions]
    ) -> dict[Dimensions, int]:
        """Ids for every combination. New rows join the memory only through `remember`,
        after their transaction commits."""
        wanted = set(combinations)
        found = {combo: self._ids[combo] for combo in wanted if combo in self._ids}
        missing = [combo for combo in wanted if combo not in found]
        if missing:
            found.update(await self._numbered(conn, missing))
        return found

    def remember(self, ids: dict[Dimensions, int]) -> None:
        if len(self._ids) + len(ids) > _REMEMBERED:
            self._ids.clear()
        self._ids.update(ids)

    async def _numbered(
        self, conn: AsyncConnection, missing: Sequence[Dimensions]
    ) -> dict[Dimensions, int]:
        parameters = [dict(zip(DIMENSIONS, combo, strict=True)) for combo in sorted(missing)]
        rows = await conn.execute(self._upsert, parameters)
        return {tuple(row[1:]): row[0] for row in rows}


def _dimensions_id(dimensions: Dimensions, ids: dict[Dimensions, int]) -> int:
    if len(dimensions) == 1:
        return ORGANIZATION_TOTAL
    return -ids[dimensions] if is_model_tier(dimensions) else ids[dimensions]


def rollup_rows(sums: Sums, ids: dict[Dimensions, int], time_value: Any) -> list[tuple[Any, ...]]:
    """The upsert's parameters, sorted by key so that concurrent writers lock rows in one
    order; `time_value` turns a bucket's start into what the driver takes."""
    rows = [
        (
            granularity,
            dimensions[0],
            time_value(datetime.fromtimestamp(start, UTC)),
            _dimensions_id(dimensions, ids),
            *values,
        )
        for (granularity, start, dimensions), values in sums.items()
    ]
    rows.sort(key=lambda row: row[:4])
    return rows
