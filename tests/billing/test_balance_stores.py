"""One conformance suite for every balance store: in-process and Redis."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import pytest

from aisonar.billing.memory_store import MemoryBalanceStore
from aisonar.billing.store import BalanceStore, DurableBalance, InsufficientBalance
from aisonar.errors import NotPositive
from tests.redis_topologies import TOPOLOGIES, topology_url

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
STARTING = DurableBalance(balance=1_000, through_entry=5)


async def load(_: str) -> DurableBalance:
    await asyncio.sleep(0)
    return STARTING


@pytest.fixture(params=["memory", *TOPOLOGIES])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[BalanceStore]:
    if request.param == "memory":
        yield MemoryBalanceStore(load)
        return
    from aisonar.billing.redis_store import RedisBalanceStore

    redis_store = RedisBalanceStore(topology_url(request, request.param), load, hold_ttl_s=60)
    yield redis_store
    await redis_store.close()


def new_org() -> str:
    return "org_" + secrets.token_hex(8)


def new_hold_id() -> str:
    return "req_" + secrets.token_hex(8)


async def test_hold_settle_release(store: BalanceStore) -> None:
    org = new_org()
    hold = await store.hold(org, 600, new_hold_id())
    live = await store.live(org)
    assert live is not None and (live.balance, live.held) == (1_000, 600)
    with pytest.raises(InsufficientBalance) as short:
        await store.hold(org, 401, new_hold_id())
    assert (short.value.needed, short.value.available) == (401, 400)
    await store.settle(hold, 250)
    live = await store.live(org)
    assert live is not None and (live.balance, live.held) == (750, 0)
    second = await store.hold(org, 750, new_hold_id())
    await store.release(second)
    live = await store.live(org)
    assert live is not None and (live.balance, live.held, live.available) == (750, 0, 750)


async def test_credits_apply_once_and_only_when_newer(store: BalanceStore) -> None:
    org = new_org()
    await store.credit(org, 9, 500)  # not loaded yet: the next load reads the database
    assert await store.live(org) is None
    await store.release(await store.hold(org, 1, new_hold_id()))
    await store.credit(org, 5, 500)  # already part of the loaded balance
    await store.credit(org, 6, 500)
    await store.credit(org, 6, 500)  # seen twice, applied once
    live = await store.live(org)
    assert live is not None and live.balance == 1_500


async def test_concurrent_holds_never_overspend(store: BalanceStore) -> None:
    org = new_org()

    async def try_hold() -> bool:
        try:
            await store.hold(org, 10, new_hold_id())
        except InsufficientBalance:
            return False
        return True

    results = await asyncio.gather(*(try_hold() for _ in range(500)))
    assert sum(results) == 100
    live = await store.live(org)
    assert live is not None and live.available == 0


@pytest.mark.skipif(not REDIS_URL, reason="AISONAR_TEST_REDIS_URL is not set")
async def test_a_hold_whose_process_died_expires() -> None:
    from aisonar.billing.redis_store import RedisBalanceStore

    assert REDIS_URL
    dying = RedisBalanceStore(REDIS_URL, load, hold_ttl_s=0.2)
    org = new_org()
    await dying.hold(org, 1_000, new_hold_id())  # never settled: its holder "crashed"
    await dying.close()
    survivor = RedisBalanceStore(REDIS_URL, load, hold_ttl_s=60)
    try:
        with pytest.raises(InsufficientBalance):
            await survivor.hold(org, 1, new_hold_id())
        await asyncio.sleep(0.3)
        late = await survivor.hold(org, 1_000, new_hold_id())
        await survivor.settle(late, 10)
        live = await survivor.live(org)
        assert live is not None and (live.balance, live.held) == (990, 0)
    finally:
        await survivor.close()


@pytest.mark.skipif(not REDIS_URL, reason="AISONAR_TEST_REDIS_URL is not set")
async def test_a_redis_that_lost_its_data_reloads_instead_of_going_wrong() -> None:
    from redis.asyncio import Redis

    from aisonar.billing.redis_store import RedisBalanceStore

    assert REDIS_URL
    store = RedisBalanceStore(REDIS_URL, load, hold_ttl_s=60)
    raw = Redis.from_url(REDIS_URL)
    org = new_org()
    try:
        hold = await store.hold(org, 100, new_hold_id())
        await raw.delete(*(await raw.keys(f"aisonar:*:{{{org}}}")))  # Redis restarted
        await store.settle(hold, 40)
        assert await store.live(org) is None  # no half-made account left behind
        await store.release(await store.hold(org, 1_000, new_hold_id()))
        live = await store.live(org)
        assert live is not None and (live.balance, live.held) == (1_000, 0)
    finally:
        await raw.aclose()
        await store.close()


@pytest.mark.parametrize("amount", [0, -1, -1_000_000_000_000])
async def test_a_hold_that_reserves_nothing_is_refused_and_changes_nothing(
    store: BalanceStore, amount: int
) -> None:
    org = new_org()
    first = await store.hold(org, 100, new_hold_id())
    with pytest.raises(NotPositive):
        await store.hold(org, amount, new_hold_id())
    with pytest.raises(NotPositive):
        await store.settle(first, -5)
    live = await store.live(org)
    assert live is not None and (live.balance, live.held) == (1_000, 100)
