"""One conformance suite for a request's counters, in-process and on Redis: admit and
hold at once, settle and finish at once, settle one attempt and hold the next at once;
a rate refusal takes nothing, a quota or balance refusal holds nothing, a settle is
applied once even when the call is asked again after loading what Redis lacked."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from aisonar.billing.memory_store import MemoryBalanceStore
from aisonar.billing.store import BalanceStore, DurableBalance, Hold
from aisonar.gateway.counters import (
    DONE,
    Admit,
    Counters,
    Finish,
    HoldOn,
    LocalCounters,
    Refusal,
    Settle,
)
from aisonar.limits.memory_spend import MemorySpendStore
from aisonar.limits.memory_store import MemoryLimitStore
from aisonar.limits.models import Subject, SubjectKind
from aisonar.limits.spend import Period, SpendCheck, SpendStore, spend_check
from aisonar.limits.store import LimitStore, RateCheck, SlotCheck
from aisonar.store.redis_client import org_scope
from tests.redis_topologies import TOPOLOGIES, topology_url

BALANCE = 10_000


@dataclass
class Loads:
    balances: int = 0
    counters: int = 0


@dataclass
class Setup:
    counters: Counters
    limits: LimitStore
    spend: SpendStore
    balance: BalanceStore
    loads: Loads


@pytest.fixture(params=["memory", *TOPOLOGIES])
async def setup(request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    loads = Loads()

    async def load_balance(_: str) -> DurableBalance:
        loads.balances += 1
        await asyncio.sleep(0)
        return DurableBalance(BALANCE, 0)

    async def load_spent(_: Subject, __: Period) -> int:
        loads.counters += 1
        await asyncio.sleep(0)
        return 0

    if request.param == "memory":
        limits: LimitStore = MemoryLimitStore()
        spend: SpendStore = MemorySpendStore(load_spent)
        balance: BalanceStore = MemoryBalanceStore(load_balance)
        yield Setup(LocalCounters(limits, spend, balance), limits, spend, balance, loads)
        return
    from aisonar.billing.redis_store import RedisBalanceStore
    from aisonar.gateway.redis_counters import RedisCounters
    from aisonar.limits.redis_spend import RedisSpendStore
    from aisonar.limits.redis_store import RedisLimitStore

    url = topology_url(request, request.param)
    redis_limits = RedisLimitStore(url)
    redis_spend = RedisSpendStore(url, load_spent, hold_ttl_s=60)
    redis_balance = RedisBalanceStore(url, load_balance, hold_ttl_s=60)
    counters = RedisCounters(url, redis_limits, redis_spend, redis_balance)
    yield Setup(counters, redis_limits, redis_spend, redis_balance, loads)
    for store in (counters, redis_limits, redis_spend, redis_balance):
        await store.close()


def token() -> str:
    return secrets.token_hex(6)


# A request's counters are its organization's: in its hash slot on a cluster, with its
# balance.
def rpm(org_id: str, limit: int) -> RateCheck:
    key = f"{org_scope(org_id)}:rpm:{token()}"
    return RateCheck("key requests per minute", key, limit, 60.0, 1)


def tpm(org_id: str, limit: int, cost: int) -> RateCheck:
    key = f"{org_scope(org_id)}:tpm:{token()}"
    return RateCheck("key tokens per minute", key, limit, 60.0, cost)


def slots(org_id: str, limit: int) -> SlotCheck:
    key = f"{org_scope(org_id)}:slots:{token()}"
    return SlotCheck("key requests in flight", key, limit, 60.0)


def quota(org_id: str, cap: int) -> SpendCheck:
    counted = Subject(SubjectKind.KEY, "key_" + token())
    now = datetime.now(UTC)
    return spend_check("daily spend quota", counted, "daily_spend", cap, now, org_id=org_id)


def org() -> str:
    return "org_" + token()


def request_id() -> str:
    return "req_" + token()


async def held(setup: Setup, org_id: str) -> tuple[int, int]:
    live = await setup.balance.live(org_id)
    assert live is not None
    return live.balance, live.held


async def test_admit_and_hold_take_everything_at_once_then_settle_and_finish_give_back(
    setup: Setup,
) -> None:
    org_id = org()
    rate, tokens, in_flight = rpm(org_id, 5), tpm(org_id, 1_000, 300), slots(org_id, 1)
    daily = quota(org_id, 900)
    first = request_id()
    outcome = await setup.counters.run(
        first,
        admit=Admit((rate, tokens), (in_flight,)),
        hold=HoldOn((daily,), org_id, 700),
    )
    assert outcome.refused is None and outcome.decision is not None
    assert outcome.decision.allowed
    assert [state.remaining for state in outcome.decision.states] == [4, 700, 0]
    assert await held(setup, org_id) == (BALANCE, 700)
    # The slot is taken, and the quota holds 700 of its 900.
    second = request_id()
    busy = await setup.counters.run(second, admit=Admit((rate,), (in_flight,)))
    assert busy.refused is Refusal.RATE and busy.decision is not None
    assert busy.decision.refused_by == "key requests in flight"
    over = await setup.counters.run(second, hold=HoldOn((daily,), org_id, 201))
    assert (over.refused, over.spend_refused_by, over.committed) == (Refusal.SPEND, daily, 700)

    done = await setup.counters.run(
        first,
        settle=Settle((daily,), Hold(org_id, 700, first), 250),
        finish=Finish((in_flight,), (tokens,), -100),
    )
    assert done == DONE
    assert await held(setup, org_id) == (BALANCE - 250, 0)
    # The slot is free again, the quota has spent 250, the tokens bucket got 100 back.
    again = await setup.counters.run(
        second, admit=Admit((tokens,), (in_flight,)), hold=HoldOn((daily,), org_id, 650)
    )
    assert again.refused is None and again.decision is not None
    assert again.decision.states[0].remaining == 1_000 - 200 - 300


async def test_a_rate_refusal_takes_nothing(setup: Setup) -> None:
    org_id = org()
    rate, in_flight, daily = rpm(org_id, 1), slots(org_id, 5), quota(org_id, 1_000)
    assert (await setup.counters.run(request_id(), admit=Admit((rate,), ()))).refused is None
    refused = await setup.counters.run(
        request_id(), admit=Admit((rate,), (in_flight,)), hold=HoldOn((daily,), org_id, 500)
    )
    assert refused.refused is Refusal.RATE and refused.decision is not None
    assert refused.decision.refused_by == "key requests per minute"
    assert 0 < refused.decision.retry_after_s <= 60
    # No slot, no quota, no balance was taken by it.
    taken = await setup.counters.run(
        request_id(), admit=Admit((), (in_flight,)), hold=HoldOn((daily,), org_id, 1_000)
    )
    assert taken.refused is None and taken.decision is not None
    assert taken.decision.states[0].remaining == 4
    assert await held(setup, org_id) == (BALANCE, 1_000)


async def test_a_quota_or_balance_refusal_is_admitted_but_holds_nothing(setup: Setup) -> None:
    org_id = org()
    rate, daily = rpm(org_id, 10), quota(org_id, BALANCE + 5_000)
    short = await setup.counters.run(
        request_id(), admit=Admit((rate,), ()), hold=HoldOn((daily,), org_id, BALANCE + 1)
    )
    assert (short.refused, short.available) == (Refusal.BALANCE, BALANCE)
    assert short.decision is not None and short.decision.states[0].remaining == 9
    assert await held(setup, org_id) == (BALANCE, 0)
    # The quota held nothing either: its whole cap can still be held, beside a balance
    # that can hold it.
    whole = await setup.counters.run(request_id(), hold=HoldOn((daily,), None, BALANCE + 5_000))
    assert whole == DONE
    over = await setup.counters.run(
        request_id(), admit=Admit((rate,), ()), hold=HoldOn((daily,), org_id, 1)
    )
    assert (over.refused, over.committed) == (Refusal.SPEND, BALANCE + 5_000)
    assert over.decision is not None and over.decision.states[0].remaining == 8
    assert await held(setup, org_id) == (BALANCE, 0)


async def test_a_failover_settles_one_attempt_and_holds_the_next_at_once(setup: Setup) -> None:
    org_id, attempt = org(), request_id()
    daily = quota(org_id, 2_000)
    assert await setup.counters.run(attempt, hold=HoldOn((daily,), org_id, 1_500)) == DONE
    released = Settle((daily,), Hold(org_id, 1_500, attempt), None)
    # Without the first hold given back, the second could not be held on the quota.
    next_one = await setup.counters.run(
        attempt, settle=released, hold=HoldOn((daily,), org_id, 1_800)
    )
    assert next_one == DONE
    assert await held(setup, org_id) == (BALANCE, 1_800)
    charged = Settle((daily,), Hold(org_id, 1_800, attempt), 1_000)
    assert await setup.counters.run(attempt, settle=charged) == DONE
    assert await held(setup, org_id) == (BALANCE - 1_000, 0)


async def test_what_the_store_lacks_is_loaded_once_and_a_settle_applied_once(
    setup: Setup,
) -> None:
    paying, first = org(), request_id()
    assert await setup.counters.run(first, hold=HoldOn((), paying, 400)) == DONE
    assert setup.loads.balances == 1
    # A settle beside the next attempt's hold on a new quota (a request's counters are
    # all its organization's): the quota is loaded, and the settle is charged once however
    # often the rest is asked.
    daily = quota(paying, 10_000)
    outcome = await setup.counters.run(
        first,
        settle=Settle((), Hold(paying, 400, first), 300),
        hold=HoldOn((daily,), paying, 600),
    )
    assert outcome == DONE
    assert (setup.loads.balances, setup.loads.counters) == (1, 1)
    assert await held(setup, paying) == (BALANCE - 300, 600)


async def test_nothing_asked_is_nothing_done(setup: Setup) -> None:
    assert await setup.counters.run(request_id()) == DONE
    org_id = org()
    finished = Finish((slots(org_id, 1),), (tpm(org_id, 10, 5),), 0)
    assert await setup.counters.run(request_id(), finish=finished) == DONE
