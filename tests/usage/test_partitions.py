"""PostgreSQL keeps raw usage events in a partition per day, created ahead and dropped
whole once past every organization's window; SQLite keeps one table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import openai
from sqlalchemy import func, select, text

from aisonar.alerts.history import forget_before
from aisonar.analytics.page_views import delete_views_before
from aisonar.clock import utcnow
from aisonar.store.tables import usage_events
from aisonar.testing.gateway_server import running_gateway
from aisonar.usage.partitions import (
    DAYS_AHEAD,
    day_partitions,
    drop_partitions_before,
    ensure_partitions,
    partition_name,
    partitioned,
)
from aisonar.usage.retention import RetentionPolicy, run_retention
from tests.support import Backend, Tenant, wait_for_usage
from tests.usage.test_rollups import event, write

FIRST_DAY = date(2025, 1, 1)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def partition_of(backend: Backend, event_id: str) -> str:
    async with backend.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT tableoid::regclass::text FROM usage_events WHERE id = :id"),
            {"id": event_id},
        )
        return str(found.scalar_one())


async def test_events_land_in_the_partition_of_their_day(backend: Backend, tenant: Tenant) -> None:
    async with backend.engine.connect() as conn:
        if not await partitioned(conn):
            assert backend.name == "sqlite"
            assert await ensure_partitions(backend.engine, utcnow().date()) == 0
            return
    # A gateway of its own: the one the session shares started long before, and other
    # tests' retention runs may have dropped days since.
    async with running_gateway(backend.settings) as gateway:
        async with backend.engine.connect() as conn:
            days = await day_partitions(conn)
        today = utcnow().date()
        # The gateway created today's partition and the week's after it when it started.
        assert all(today + timedelta(days=n) in days for n in range(DAYS_AHEAD + 1))
        base_url = f"{gateway.url}/v1"
        async with openai.AsyncOpenAI(base_url=base_url, api_key=tenant.secret) as client:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
        await wait_for_usage(backend.engine, tenant.org_id, 1)
    async with backend.engine.connect() as conn:
        event_id = (
            await conn.execute(
                select(usage_events.c.id).where(usage_events.c.org_id == tenant.org_id)
            )
        ).scalar_one()
    assert await partition_of(backend, event_id) in (
        partition_name(today),
        partition_name(today + timedelta(days=1)),  # a request that crossed midnight
    )


async def test_expired_days_are_dropped_whole(backend: Backend, tenant: Tenant) -> None:
    async with backend.engine.connect() as conn:
        if not await partitioned(conn):
            return
    # A day whose events already sit in the default partition keeps them there.
    await write(backend, [event(tenant.org_id, midnight(FIRST_DAY) + timedelta(hours=1))])
    created = await ensure_partitions(backend.engine, FIRST_DAY, days_ahead=5)
    assert created == 5
    async with backend.engine.connect() as conn:
        days = await day_partitions(conn)
    assert FIRST_DAY not in days and FIRST_DAY + timedelta(days=5) in days
    events = [
        event(tenant.org_id, midnight(FIRST_DAY + timedelta(days=n)) + timedelta(hours=12))
        for n in range(1, 6)
    ]
    await write(backend, events)
    assert await partition_of(backend, events[0].id) == partition_name(FIRST_DAY + timedelta(1))

    # Days 2 to 3 end by the cutoff (day 4, noon); day 4 does not.
    cutoff = midnight(FIRST_DAY + timedelta(days=4)) + timedelta(hours=12)
    assert await drop_partitions_before(backend.engine, cutoff) == 3
    async with backend.engine.connect() as conn:
        left = await conn.execute(
            select(func.count())
            .select_from(usage_events)
            .where(usage_events.c.org_id == tenant.org_id)
        )
        days = await day_partitions(conn)
    # The default partition's event and days 4 and 5 remain.
    assert left.scalar_one() == 3
    assert min(day for day in days if day.year == 2025) == FIRST_DAY + timedelta(days=4)


async def test_a_retention_run_drops_the_days_past_the_longest_window(
    backend: Backend, tenant: Tenant
) -> None:
    async with backend.engine.connect() as conn:
        if not await partitioned(conn):
            return
    day = date(2024, 6, 1)
    assert await ensure_partitions(backend.engine, day, days_ahead=0) == 1
    await write(backend, [event(tenant.org_id, midnight(day) + timedelta(hours=3))])
    async with backend.engine.connect() as conn:
        longest = await conn.execute(
            text(
                "SELECT GREATEST((SELECT MAX(retention_days) FROM plans), "
                "COALESCE((SELECT MAX(retention_days) FROM organizations), 0))"
            )
        )
        as_of = midnight(day) + timedelta(days=int(longest.scalar_one()) + 1)
    policy = RetentionPolicy(minute_rollup_days=36500, rollup_days=36500, batch_size=100, pause_s=0)
    report = await run_retention(
        backend.engine,
        as_of,
        policy,
        forget_site_views=delete_views_before,
        forget_alert_history=forget_before,
    )
    assert report.partitions_dropped >= 1
    async with backend.engine.connect() as conn:
        assert day not in await day_partitions(conn)
