"""One conformance suite for every balance store: in-process and Redis."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import pytest

from aisonar.billing.memory_store import MemoryBalanceStore
from aisonar.billing.store import BalanceStore, DurableBalance, InsufficientBalance

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
STARTING = DurableBalance(balance=1_000, through_entry=5)


async def load(_: str) -> DurableBalance:
    await asyncio.sleep(0)
    return STARTING


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[BalanceStore]:
    if request.param == "memory":
        yield MemoryBalanceStore(load)
        return
    if not REDIS_URL:
        pytest.skip("AISONAR_TEST_REDIS_URL is not set")
    from aisonar.billing.redis_store import RedisBalanceStore

    redis_store = RedisBalanceStore(REDIS_URL, load)
    yield redis_store
    await redis_store.close()


def new_org() -> str:
    return "org_" + secrets.token_hex(8)


async def test_hold_settle_release(store: BalanceStore) -> None:
    org = new_org()
    hold = await store.hold(org, 600)
    live = await store.live(org)
    assert live is not None and (live.balance, live.held) == (1_000, 600)
    with pytest.raises(InsufficientBalance) as short:
        await store.hold(org, 401)
    assert (short.value.needed, short.value.available) == (401, 400)
    await store.settle(hold, 250)
    live = await store.live(org)
    assert live is not None and (live.balance, live.held) == (750, 0)
    second = await store.hold(org, 750)
    await store.release(second)
    live = await store.live(org)
    assert live is not None and (live.balance, live.held, live.available) == (750, 0, 750)


async def test_credits_apply_once_and_only_when_newer(store: BalanceStore) -> None:
    org = new_org()
    await store.credit(org, 9, 500)  # not loaded yet: the next load reads the database
    assert await store.live(org) is None
    await store.release(await store.hold(org, 1))
    await store.credit(org, 5, 500)  # already part of the loaded balance
    await store.credit(org, 6, 500)
    await store.credit(org, 6, 500)  # seen twice, applied once
    live = await store.live(org)
    assert live is not None and live.balance == 1_500


async def test_concurrent_holds_never_overspend(store: BalanceStore) -> None:
    org = new_org()

    async def try_hold() -> bool:
        try:
            await store.hold(org, 10)
        except InsufficientBalance:
            return False
        return True

    results = await asyncio.gather(*(try_hold() for _ in range(500)))
    assert sum(results) == 100
    live = await store.live(org)
    assert live is not None and live.available == 0
