"""A run's budget in the request's counters, in-process and on Redis: a run's holds and
settles go with the balance's in one call; the first hold sets the budget, which holds and
costs never pass, whatever their concurrency; another budget for a started run is told
apart from a spent one; a refused run takes nothing else; a run lives a day after its
last use."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from aisonar.billing.memory_store import MemoryBalanceStore
from aisonar.billing.store import BalanceStore, DurableBalance, Hold
from aisonar.gateway.counters import DONE, Counters, HoldOn, LocalCounters, Refusal, Settle
from aisonar.limits.memory_spend import MemorySpendStore
from aisonar.limits.memory_store import MemoryLimitStore
from aisonar.limits.models import Subject
from aisonar.limits.run_budget import RUN_TTL_S, RunCheck
from aisonar.limits.spend import Period

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
BALANCE = 10_000


@dataclass
class Setup:
    counters: Counters
    balance: BalanceStore
    redis: bool


@pytest.fixture(params=["memory", "redis"])
async def setup(request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    async def load_balance(_: str) -> DurableBalance:
        return DurableBalance(BALANCE, 0)

    async def load_spent(_: Subject, __: Period) -> int:
        return 0

    if request.param == "memory":
        balance: BalanceStore = MemoryBalanceStore(load_balance)
        counters = LocalCounters(MemoryLimitStore(), MemorySpendStore(load_spent), balance)
        yield Setup(counters, balance, False)
        return
    if not REDIS_URL:
        pytest.skip("AISONAR_TEST_REDIS_URL is not set")
    from aisonar.billing.redis_store import RedisBalanceStore
    from aisonar.gateway.redis_counters import RedisCounters
    from aisonar.limits.redis_spend import RedisSpendStore
    from aisonar.limits.redis_store import RedisLimitStore

    limits = RedisLimitStore(REDIS_URL)
    spend = RedisSpendStore(REDIS_URL, load_spent, hold_ttl_s=60)
    redis_balance = RedisBalanceStore(REDIS_URL, load_balance, hold_ttl_s=60)
    redis_counters = RedisCounters(REDIS_URL, limits, spend, redis_balance)
    yield Setup(redis_counters, redis_balance, True)
    for store in (redis_counters, limits, spend, redis_balance):
        await store.close()


def token() -> str:
    return secrets.token_hex(6)


def run(org_id: str, budget: int, run_id: str | None = None) -> RunCheck:
    return RunCheck(org_id, run_id or "run-" + token(), budget)


async def held(setup: Setup, org_id: str) -> tuple[int, int]:
    live = await setup.balance.live(org_id)
    assert live is not None
    return live.balance, live.held


async def test_a_run_holds_and_spends_within_its_budget_beside_the_balance(setup: Setup) -> None:
    org_id = "org_" + token()
    agent = run(org_id, 1_000)
    first, second = "req_" + token(), "req_" + token()
    assert await setup.counters.run(first, hold=HoldOn((), org_id, 600, agent)) == DONE
    assert await held(setup, org_id) == (BALANCE, 600)
    short = await setup.counters.run(second, hold=HoldOn((), org_id, 500, agent))
    assert (short.refused, short.committed, short.run_budget) == (Refusal.RUN, 600, 1_000)
    # The refused request took nothing from the balance.
    assert await held(setup, org_id) == (BALANCE, 600)
    # The first costs 450 of its 600, and the second, asked again, fits in what is left.
    spent = Settle((), Hold(org_id, 600, first), 450, agent)
    assert await setup.counters.run(first, settle=spent) == DONE
    assert await setup.counters.run(second, hold=HoldOn((), org_id, 550, agent)) == DONE
    released = Settle((), Hold(org_id, 550, second), None, agent)
    assert await setup.counters.run(second, settle=released) == DONE
    assert await held(setup, org_id) == (BALANCE - 450, 0)
    over = await setup.counters.run(second, hold=HoldOn((), org_id, 551, agent))
    assert (over.refused, over.committed) == (Refusal.RUN, 450)


async def test_the_first_hold_sets_the_budget_and_another_is_told_apart(setup: Setup) -> None:
    org_id = "org_" + token()
    agent = run(org_id, 1_000)
    assert await setup.counters.run("req_" + token(), hold=HoldOn((), None, 100, agent)) == DONE
    other = RunCheck(org_id, agent.run_id, 5_000)
    refused = await setup.counters.run("req_" + token(), hold=HoldOn((), org_id, 100, other))
    assert (refused.refused, refused.committed, refused.run_budget) == (Refusal.RUN, 100, 1_000)
    # Another organization's run of the same name is its own.
    elsewhere = RunCheck("org_" + token(), agent.run_id, 5_000)
    assert await setup.counters.run("req_" + token(), hold=HoldOn((), None, 4_000, elsewhere)) == (
        DONE
    )


async def test_a_first_request_past_its_own_budget_is_refused(setup: Setup) -> None:
    org_id = "org_" + token()
    agent = run(org_id, 100)
    refused = await setup.counters.run("req_" + token(), hold=HoldOn((), org_id, 101, agent))
    assert (refused.refused, refused.committed, refused.run_budget) == (Refusal.RUN, 0, 100)
    assert await setup.counters.run("req_" + token(), hold=HoldOn((), org_id, 100, agent)) == DONE


async def test_a_balance_refusal_holds_nothing_on_the_run(setup: Setup) -> None:
    org_id = "org_" + token()
    agent = run(org_id, BALANCE * 2)
    short = await setup.counters.run("req_" + token(), hold=HoldOn((), org_id, BALANCE + 1, agent))
    assert short.refused is Refusal.BALANCE
    whole = HoldOn((), None, BALANCE * 2, agent)
    assert await setup.counters.run("req_" + token(), hold=whole) == DONE


async def test_concurrent_holds_never_pass_the_budget(setup: Setup) -> None:
    org_id = "org_" + token()
    agent = run(org_id, 1_000)
    outcomes = await asyncio.gather(
        *(
            setup.counters.run("req_" + token(), hold=HoldOn((), org_id, 70, agent))
            for _ in range(40)
        )
    )
    assert sum(outcome == DONE for outcome in outcomes) == 14
    assert all(o.refused is Refusal.RUN for o in outcomes if o != DONE)
    assert await held(setup, org_id) == (BALANCE, 980)


async def test_a_run_lives_a_day_after_its_last_use(setup: Setup) -> None:
    if not setup.redis:
        pytest.skip("Redis keeps the time to live; the in-process runs sweep by their own clock")
    from redis.asyncio import Redis

    from aisonar.limits.redis_run import run_keys

    org_id = "org_" + token()
    agent = run(org_id, 1_000)
    assert await setup.counters.run("req_" + token(), hold=HoldOn((), None, 10, agent)) == DONE
    assert REDIS_URL
    redis = Redis.from_url(REDIS_URL)
    try:
        for key in run_keys(agent):
            assert (RUN_TTL_S - 60) * 1000 < await redis.pttl(key) <= RUN_TTL_S * 1000
        # The keys carry the organization's hash tag, as its balance's do.
        assert all(f"{{{org_id}}}" in key for key in run_keys(agent))
    finally:
        await redis.aclose()
