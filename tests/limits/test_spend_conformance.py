"""One conformance suite for every spend store: in-process and Redis. Holds never take a
counter past its cap, whatever the concurrency; settling replaces a hold with the cost;
a counter the store does not hold is loaded from the database's figure once."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from aisonar.errors import NotPositive
from aisonar.limits.memory_spend import MemorySpendStore
from aisonar.limits.models import Subject, SubjectKind
from aisonar.limits.spend import (
    Period,
    SpendCheck,
    SpendStore,
    day_of,
    month_of,
    spend_check,
)
from tests.redis_topologies import TOPOLOGIES, topology_url

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
# Counters in Redis expire a day after their period ends: the periods tested are current.
NOW = datetime.now(UTC)


class Database:
    """What the loader reports as already spent, and how often it was asked."""

    def __init__(self) -> None:
        self.spent: dict[tuple[str, datetime], int] = {}
        self.loads = 0

    async def load(self, counted: Subject, period: Period) -> int:
        self.loads += 1
        await asyncio.sleep(0)  # a real query yields to other requests
        return self.spent.get((counted.id, period.start), 0)


@pytest.fixture
def database() -> Database:
    return Database()


async def make_store(where: str, database: Database, *, hold_ttl_s: float = 60) -> SpendStore:
    """An in-process store ("memory"), or one on the Redis at URL `where`."""
    if where == "memory":
        return MemorySpendStore(database.load)
    if not where:
        pytest.skip("AISONAR_TEST_REDIS_URL is not set")
    from aisonar.limits.redis_spend import RedisSpendStore

    return RedisSpendStore(where, database.load, hold_ttl_s=hold_ttl_s)


@pytest.fixture(params=["memory", *TOPOLOGIES])
async def store(request: pytest.FixtureRequest, database: Database) -> AsyncIterator[SpendStore]:
    kind = request.param
    made = await make_store(kind if kind == "memory" else topology_url(request, kind), database)
    yield made
    await made.close()


# The counters of one hold share a hash slot on a cluster, as a request's share its
# organization's.
ORG = "org_conformance"


def check(cap: int, *, dimension: str = "daily_spend", subject: str = "") -> SpendCheck:
    counted = Subject(SubjectKind.USER, subject or "usr_" + secrets.token_hex(6))
    return spend_check(f"{dimension} of {counted.id}", counted, dimension, cap, NOW, org_id=ORG)


def hold_id() -> str:
    return "req_" + secrets.token_hex(6)


def test_periods_are_utc_calendar_days_and_months() -> None:
    afternoon = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    assert day_of(afternoon) == Period(
        datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)
    )
    assert month_of(afternoon) == Period(
        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    )
    december = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert month_of(december).end == datetime(2027, 1, 1, tzinfo=UTC)
    assert day_of(december).end == datetime(2027, 1, 1, tzinfo=UTC)


async def test_holds_fill_the_cap_and_the_next_one_is_refused(store: SpendStore) -> None:
    quota = check(1_000)
    decisions = [await store.hold(hold_id(), [quota], 300) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].refused_by == quota and decisions[-1].committed == 900
    # What is left still takes a request that fits in it.
    assert (await store.hold(hold_id(), [quota], 100)).allowed


async def test_settling_replaces_the_hold_with_the_cost(store: SpendStore) -> None:
    quota = check(1_000)
    first = hold_id()
    assert (await store.hold(first, [quota], 600)).allowed
    assert not (await store.hold(hold_id(), [quota], 600)).allowed
    await store.settle(first, [quota], 250)
    second = hold_id()
    assert (await store.hold(second, [quota], 600)).allowed
    # A cost beyond its hold is still charged in full, and exhausts the quota.
    await store.settle(second, [quota], 800)
    refused = await store.hold(hold_id(), [quota], 1)
    assert not refused.allowed and refused.committed == 1_050


async def test_a_released_hold_gives_everything_back(store: SpendStore) -> None:
    quota = check(500)
    held = hold_id()
    assert (await store.hold(held, [quota], 500)).allowed
    await store.settle(held, [quota], 0)
    assert (await store.hold(hold_id(), [quota], 500)).allowed


async def test_a_refusal_by_one_quota_takes_nothing_from_the_others(store: SpendStore) -> None:
    roomy, tight = check(10_000), check(100)
    refused = await store.hold(hold_id(), [roomy, tight], 200)
    assert not refused.allowed and refused.refused_by == tight
    assert (await store.hold(hold_id(), [roomy], 10_000)).allowed


async def test_concurrent_holds_never_pass_the_cap(store: SpendStore) -> None:
    quota = check(1_000)
    decisions = await asyncio.gather(*(store.hold(hold_id(), [quota], 100) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10


async def test_a_counter_starts_from_what_the_database_has_spent(
    store: SpendStore, database: Database
) -> None:
    quota = check(1_000)
    database.spent[(quota.counted.id, quota.period.start)] = 950
    refused = await store.hold(hold_id(), [quota], 100)
    assert not refused.allowed and refused.committed == 950
    assert (await store.hold(hold_id(), [quota], 50)).allowed
    assert database.loads == 1


async def test_each_period_has_its_own_counter(store: SpendStore) -> None:
    user = "usr_" + secrets.token_hex(6)
    daily = check(100, subject=user)
    monthly = check(1_000, subject=user, dimension="monthly_spend")
    assert (await store.hold(hold_id(), [daily, monthly], 100)).allowed
    refused = await store.hold(hold_id(), [daily, monthly], 100)
    assert refused.refused_by == daily
    tomorrow = spend_check(
        daily.name, daily.counted, "daily_spend", 100, day_of(NOW).end, org_id=ORG
    )
    assert (await store.hold(hold_id(), [tomorrow, monthly], 100)).allowed


async def test_a_dead_holders_hold_expires_in_the_shared_store(database: Database) -> None:
    store = await make_store(REDIS_URL or "", database, hold_ttl_s=0.2)
    try:
        quota = check(100)
        assert (await store.hold(hold_id(), [quota], 100)).allowed  # never settled
        assert not (await store.hold(hold_id(), [quota], 100)).allowed
        await asyncio.sleep(0.3)
        assert (await store.hold(hold_id(), [quota], 100)).allowed
    finally:
        await store.close()


async def test_a_counter_lost_with_redis_reloads_from_the_database(database: Database) -> None:
    store = await make_store(REDIS_URL or "", database, hold_ttl_s=0.2)
    assert REDIS_URL
    from redis.asyncio import Redis

    try:
        quota = check(1_000)
        held = hold_id()
        assert (await store.hold(held, [quota], 400)).allowed
        async with Redis.from_url(REDIS_URL) as redis:
            await redis.delete(f"aisonar:{quota.key}")
        # Settling a counter that is gone writes nothing half-made...
        await store.settle(held, [quota], 400)
        # ...and the next hold starts again from the database's figure.
        database.spent[(quota.counted.id, quota.period.start)] = 400
        refused = await store.hold(hold_id(), [quota], 700)
        assert not refused.allowed and refused.committed == 400
        # The lost counter's hold, once expired, is not taken off the new one.
        await asyncio.sleep(0.3)
        refused = await store.hold(hold_id(), [quota], 700)
        assert not refused.allowed and refused.committed == 400
    finally:
        await store.close()


@pytest.mark.parametrize("amount", [0, -1, -1_000_000_000_000])
async def test_a_hold_that_reserves_nothing_is_refused_and_changes_nothing(
    store: SpendStore, amount: int
) -> None:
    quota = check(1_000)
    first = hold_id()
    assert (await store.hold(first, [quota], 400)).allowed
    with pytest.raises(NotPositive):
        await store.hold(hold_id(), [quota], amount)
    with pytest.raises(NotPositive):
        await store.settle(first, [quota], -5)
    assert not (await store.hold(hold_id(), [quota], 601)).allowed
    assert (await store.hold(hold_id(), [quota], 600)).allowed
