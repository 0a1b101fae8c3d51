"""Rollups: every event lands in its minute, per combination of dimensions, in the
transaction of the raw rows; compaction rebuilds recent hours and days from the minutes,
and events in minutes it has already covered go to their hour and day at once. Sums and latency
distributions add up across batches, writers and granularities."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from aisonar.analytics.summary import Filters, GroupBy, summarize
from aisonar.clock import utcnow
from aisonar.store.tables import rollup_dimensions, usage_events, usage_rollups
from aisonar.usage.compaction import compact
from aisonar.usage.histogram import bucket_of, percentile
from aisonar.usage.models import UsageEvent
from aisonar.usage.rollups import (
    DAY,
    DIMENSIONS,
    HOUR,
    LATENCY_COLUMNS,
    MINUTE,
    ORGANIZATION_TOTAL,
    TTFT_COLUMNS,
)
from aisonar.usage.writer import UsageWriter
from tests.support import Backend

NOON = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)


def event(org: str, at: datetime, **changes: Any) -> UsageEvent:
    fields: dict[str, Any] = {
        "id": "req_" + secrets.token_hex(8),
        "started_at": at,
        "org_id": org,
        "user_id": "usr_a",
        "key_id": "key_a",
        "client_ip": "127.0.0.1",
        "endpoint": "/v1/chat/completions",
        "requested_model": "gpt-4o-mini",
        "upstream_model": "gpt-4o-mini-2024-07-18",
        "channel_id": "chn_a",
        "stream": True,
        "status_code": 200,
        "error_type": None,
        "error_message": None,
        "input_tokens": 10,
        "cached_input_tokens": 2,
        "output_tokens": 20,
        "reasoning_tokens": 0,
        "cache_write_tokens": 0,
        "tokens_estimated": False,
        "cost": 1_000,
        "price_version": "test",
        "latency_ms": 500,
        "ttft_ms": 100,
        "provider": "openai",
    }
    return UsageEvent(**{**fields, **changes})


async def write(backend: Backend, events: list[UsageEvent], batch_size: int = 1000) -> None:
    writer = UsageWriter(
        backend.engine, batch_size=batch_size, flush_interval_s=0.01, max_pending=100_000
    )
    task = asyncio.create_task(writer.run())
    for item in events:
        writer.submit(item)
    await writer.stop(task)


async def rollup_rows(backend: Backend, org: str, granularity: int) -> list[Any]:
    """The organization's rollups with their dimensions."""
    dimensions = rollup_dimensions
    async with backend.engine.connect() as conn:
        return list(
            await conn.execute(
                select(usage_rollups, *(dimensions.c[name] for name in DIMENSIONS[1:]))
                .join(dimensions, dimensions.c.id == usage_rollups.c.dimensions_id)
                .where(usage_rollups.c.org_id == org, usage_rollups.c.granularity == granularity)
                .order_by(usage_rollups.c.bucket_start, dimensions.c.status_class)
            )
        )


async def test_late_events_are_summed_per_minute_hour_and_day_at_once(backend: Backend) -> None:
    org = "org_" + secrets.token_hex(6)
    events = [
        event(org, NOON),
        event(org, NOON + timedelta(seconds=10), latency_ms=3000, ttft_ms=None, stream=False),
        event(org, NOON + timedelta(minutes=1), status_code=429, output_tokens=0, cost=0),
        event(org, NOON + timedelta(hours=2), requested_model=None, user_id=None, key_id=None),
    ]
    await write(backend, events, batch_size=2)
    minutes = await rollup_rows(backend, org, MINUTE)
    assert [(r.bucket_start.replace(tzinfo=UTC), r.status_class, r.requests) for r in minutes] == [
        (NOON.replace(second=0), "2", 2),
        (NOON.replace(minute=1, second=0), "4", 1),
        (NOON.replace(hour=14, second=0), "2", 1),
    ]
    first = minutes[0]
    assert (first.input_tokens, first.output_tokens, first.cost) == (20, 40, 2_000)
    assert (first.latency_ms_sum, first.ttft_ms_sum, first.ttft_count) == (3500, 100, 1)
    assert (first.generation_ms_sum, first.generated_tokens) == (400, 20)
    assert getattr(first, f"latency_b{bucket_of(500):02d}") == 1
    assert getattr(first, f"latency_b{bucket_of(3000):02d}") == 1
    assert minutes[1].errors == 1 and minutes[0].errors == 0
    # No model, user or key: "" in the key, not NULL.
    assert (minutes[2].model, minutes[2].user_id, minutes[2].key_id) == ("", "", "")

    hours = await rollup_rows(backend, org, HOUR)
    assert [(r.status_class, r.requests) for r in hours] == [("2", 2), ("4", 1), ("2", 1)]
    days = await rollup_rows(backend, org, DAY)
    assert sum(r.requests for r in days) == 4 and sum(r.cost for r in days) == 3_000
    assert {r.bucket_start.replace(tzinfo=UTC) for r in days} == {
        datetime(2026, 11, 20, tzinfo=UTC)
    }


async def test_batches_and_writers_add_up_to_the_raw_events(backend: Backend) -> None:
    org = "org_" + secrets.token_hex(6)
    latencies = [37 * (i % 97) + 5 for i in range(3000)]
    events = [
        event(org, NOON + timedelta(seconds=i % 120), latency_ms=ms, ttft_ms=ms // 3)
        for i, ms in enumerate(latencies)
    ]
    # Two writers at once, in small batches: their upserts meet on the same rows.
    await asyncio.gather(
        write(backend, events[:1500], batch_size=100), write(backend, events[1500:], batch_size=70)
    )
    async with backend.engine.connect() as conn:
        raw = (
            await conn.execute(
                select(func.count(), func.sum(usage_events.c.cost)).where(
                    usage_events.c.org_id == org
                )
            )
        ).one()
    days = await rollup_rows(backend, org, DAY)
    minutes = await rollup_rows(backend, org, MINUTE)
    assert raw == (3000, 3_000_000)
    assert sum(r.requests for r in days) == sum(r.requests for r in minutes) == 3000
    assert sum(r.cost for r in minutes) == 3_000_000
    counts = [sum(getattr(r, column) for r in days) for column in TTFT_COLUMNS]
    exact = sorted(ms // 3 for ms in latencies)[int(0.95 * 3000)]
    estimate = percentile(counts, 0.95)
    assert estimate is not None and abs(estimate - exact) / exact < 0.2


async def test_recent_hours_and_days_are_rebuilt_from_their_minutes(backend: Backend) -> None:
    org = "org_" + secrets.token_hex(6)
    now = utcnow()
    recent = [event(org, now - timedelta(minutes=m), cost=100 * m) for m in range(1, 40)]
    await write(backend, recent[:20])
    assert sum(r.requests for r in await rollup_rows(backend, org, MINUTE)) == 20

    async def compacted() -> tuple[int, int, int, int]:
        async with backend.engine.begin() as conn:
            assert await compact(conn, utcnow())
        hours, days = await rollup_rows(backend, org, HOUR), await rollup_rows(backend, org, DAY)
        return (
            sum(r.requests for r in hours),
            sum(r.cost for r in hours),
            sum(r.requests for r in days),
            sum(r.cost for r in days),
        )

    expected = sum(100 * m for m in range(1, 21))
    assert await compacted() == (20, expected, 20, expected)
    # Running again replaces, never adds.
    assert await compacted() == (20, expected, 20, expected)
    await write(backend, recent[20:])
    everything = sum(100 * m for m in range(1, 40))
    assert await compacted() == (39, everything, 39, everything)
    minutes = await rollup_rows(backend, org, MINUTE)
    hours = await rollup_rows(backend, org, HOUR)
    for column in ("requests", "output_tokens", "latency_ms_sum", *TTFT_COLUMNS):
        assert sum(getattr(r, column) for r in hours) == sum(getattr(r, column) for r in minutes)


async def organization_totals(backend: Backend, org: str, granularity: int) -> list[Any]:
    async with backend.engine.connect() as conn:
        return list(
            await conn.execute(
                select(usage_rollups)
                .where(
                    usage_rollups.c.org_id == org,
                    usage_rollups.c.granularity == granularity,
                    usage_rollups.c.dimensions_id == ORGANIZATION_TOTAL,
                )
                .order_by(usage_rollups.c.bucket_start)
            )
        )


async def test_each_organization_has_a_total_per_hour_and_day(backend: Backend) -> None:
    org = "org_" + secrets.token_hex(6)
    now = utcnow()
    late = [event(org, NOON + timedelta(minutes=m), key_id=f"key_{m % 3}") for m in range(12)]
    recent = [event(org, now - timedelta(minutes=m), requested_model=None) for m in range(1, 9)]
    await write(backend, [*late, *recent])
    async with backend.engine.begin() as conn:
        await compact(conn, utcnow())
    for granularity in (HOUR, DAY):
        totals = await organization_totals(backend, org, granularity)
        detail = await rollup_rows(backend, org, granularity)
        assert sum(t.requests for t in totals) == sum(d.requests for d in detail) == 20
        for column in ("cost", "output_tokens", *LATENCY_COLUMNS):
            assert sum(getattr(t, column) for t in totals) == sum(
                getattr(d, column) for d in detail
            )
    # One total per organization and bucket: the late hour, and the recent one or two.
    assert len(await organization_totals(backend, org, HOUR)) in (2, 3)
    assert await organization_totals(backend, org, MINUTE) == []


async def test_each_organization_has_its_use_of_each_model_per_hour_and_day(
    backend: Backend,
) -> None:
    org = "org_" + secrets.token_hex(6)
    now = utcnow()
    models = ("gpt-4o", "claude-haiku-4-5", None)
    # Late events (the writer adds them to hours and days) and recent ones (compaction).
    late = [
        event(org, NOON + timedelta(minutes=m), requested_model=models[m % 3], key_id=f"k{m % 2}")
        for m in range(12)
    ]
    recent = [
        event(org, now - timedelta(minutes=m), requested_model=models[m % 2], cost=10 * m)
        for m in range(1, 9)
    ]
    await write(backend, [*late, *recent])
    async with backend.engine.begin() as conn:
        await compact(conn, utcnow())
    since = NOON.replace(hour=0, minute=0, second=0)
    until = since + timedelta(days=((now - since).days + 2))
    async with backend.engine.connect() as conn:
        for granularity in (HOUR, DAY):
            tiers = await conn.execute(
                select(
                    rollup_dimensions.c.model,
                    func.sum(usage_rollups.c.requests),
                    func.sum(usage_rollups.c.cost),
                )
                .join(rollup_dimensions, rollup_dimensions.c.id == -usage_rollups.c.dimensions_id)
                .where(
                    usage_rollups.c.org_id == org,
                    usage_rollups.c.granularity == granularity,
                    usage_rollups.c.dimensions_id < ORGANIZATION_TOTAL,
                )
                .group_by(rollup_dimensions.c.model)
            )
            per_model: dict[str, list[int]] = {}
            for row in await rollup_rows(backend, org, granularity):
                sums = per_model.setdefault(row.model, [0, 0])
                sums[0] += row.requests
                sums[1] += row.cost
            assert {model: [requests, cost] for model, requests, cost in tiers} == per_model
        # A breakdown by model reads those rows, and agrees with each model's own total.
        by_model = await summarize(conn, Filters(since, until, org_id=org), GroupBy.MODEL)
        for found in by_model:
            [alone] = await summarize(
                conn, Filters(since, until, org_id=org, model=found.group), GroupBy.TOTAL
            )
            assert (found.requests, found.cost_units) == (alone.requests, alone.cost_units)
        assert sum(found.requests for found in by_model) == 20
        assert {found.group for found in by_model} == {"gpt-4o", "claude-haiku-4-5", ""}
