"""One conformance suite for every limit store: in-process and Redis. Windows are short
and real: Redis decides on its own clock, which a test cannot move."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from aisonar.errors import NotPositive
from aisonar.limits.memory_store import MemoryLimitStore
from aisonar.limits.store import LimitStore, RateCheck, SlotCheck
from aisonar.store.redis_client import org_scope
from tests.redis_topologies import TOPOLOGIES, topology_url

DAY_S = 86_400.0


@pytest.fixture(params=["memory", *TOPOLOGIES])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LimitStore]:
    if request.param == "memory":
        yield MemoryLimitStore()
        return
    from aisonar.limits.redis_store import RedisLimitStore

    redis_store = RedisLimitStore(topology_url(request, request.param))
    yield redis_store
    await redis_store.close()


# The checks of one call share a hash slot on a cluster, as a request's share its
# organization's.
SCOPE = org_scope("org_conformance")


def rate(limit: int, *, window_s: float = 60.0, cost: int = 1, name: str = "rpm") -> RateCheck:
    return RateCheck(name, f"{SCOPE}:{name}:{secrets.token_hex(6)}", limit, window_s, cost)


def slot(limit: int, *, ttl_s: float = 60.0) -> SlotCheck:
    return SlotCheck("concurrent", f"{SCOPE}:slots:{secrets.token_hex(6)}", limit, ttl_s)


def request_id() -> str:
    return "req_" + secrets.token_hex(6)


async def test_a_full_bucket_admits_its_limit_then_refuses_with_when_to_retry(
    store: LimitStore,
) -> None:
    check = rate(5)
    decisions = [await store.admit(request_id(), [check], []) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.states[0].remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[-1]
    assert refused.refused_by == "rpm"
    # One request's worth refills in 60 s / 5.
    assert 11.5 < refused.retry_after_s <= 12.0
    assert 59 < refused.states[0].reset_s <= 60


async def test_concurrent_decisions_admit_exactly_the_limit(store: LimitStore) -> None:
    check = rate(50)
    decisions = await asyncio.gather(*(store.admit(request_id(), [check], []) for _ in range(120)))
    assert sum(d.allowed for d in decisions) == 50


async def test_the_bucket_refills_smoothly(store: LimitStore) -> None:
    # One refill per 2 s: wide enough that a loaded machine's pauses between the calls
    # (Redis refills on its own clock) refill nothing unforeseen.
    check = rate(4, window_s=8.0)
    assert all([(await store.admit(request_id(), [check], [])).allowed for _ in range(4)])
    assert not (await store.admit(request_id(), [check], [])).allowed
    await asyncio.sleep(3.0)  # one and a half refills
    assert (await store.admit(request_id(), [check], [])).allowed
    assert not (await store.admit(request_id(), [check], [])).allowed


async def test_a_refusal_by_one_limit_takes_nothing_from_the_others(store: LimitStore) -> None:
    loose, tight = rate(100, name="org rpm"), rate(2, name="key rpm")
    seats = slot(10)
    results = [await store.admit(request_id(), [loose, tight], [seats]) for _ in range(4)]
    assert [d.allowed for d in results] == [True, True, False, False]
    assert results[-1].refused_by == "key rpm"
    # Two admitted: the loose bucket and the slots were charged twice only.
    alone = await store.admit(request_id(), [loose], [seats])
    assert alone.allowed and alone.states[0].remaining == 97 and alone.states[1].remaining == 7


async def test_a_request_bigger_than_the_whole_limit_is_refused(store: LimitStore) -> None:
    tokens = rate(1000, cost=1500, name="tpm")
    decision = await store.admit(request_id(), [tokens], [])
    assert not decision.allowed and decision.refused_by == "tpm"
    assert decision.retry_after_s == 60.0
    # Nothing was taken.
    assert (await store.admit(request_id(), [rate(1000, cost=1)], [])).allowed
    same_bucket = RateCheck("tpm", tokens.key, 1000, 60.0, 1000)
    assert (await store.admit(request_id(), [same_bucket], [])).allowed


async def test_token_counts_are_corrected_once_the_real_usage_is_known(
    store: LimitStore,
) -> None:
    # A day's window refills a token in 86 s, so none refills between the calls.
    estimate = rate(1000, window_s=DAY_S, cost=100, name="tpm")
    assert (await store.admit(request_id(), [estimate], [])).states[0].remaining == 900
    await store.finish(request_id(), [], [estimate], 400)  # it used 500
    # Each probe takes one token: a store takes only positive costs.
    probe = RateCheck("tpm", estimate.key, 1000, DAY_S, 1)
    assert (await store.admit(request_id(), [probe], [])).states[0].remaining == 499
    await store.finish(request_id(), [], [estimate], -300)  # a refund
    assert (await store.admit(request_id(), [probe], [])).states[0].remaining == 798
    await store.finish(request_id(), [], [estimate], -5000)  # never more than whole
    assert (await store.admit(request_id(), [probe], [])).states[0].remaining == 999


async def test_concurrency_slots_are_held_until_released(store: LimitStore) -> None:
    seats = slot(2)
    first, second, third = request_id(), request_id(), request_id()
    assert (await store.admit(first, [], [seats])).allowed
    decision = await store.admit(second, [], [seats])
    assert decision.allowed and decision.states[0].remaining == 0
    refused = await store.admit(third, [], [seats])
    assert not refused.allowed and refused.refused_by == "concurrent"
    await store.finish(first, [seats], [], 0)
    assert (await store.admit(third, [], [seats])).allowed


async def test_finishing_gives_back_the_slot_and_corrects_the_tokens_together(
    store: LimitStore,
) -> None:
    seats, estimate = slot(1), rate(1000, window_s=DAY_S, cost=600, name="tpm")
    admitted = request_id()
    assert (await store.admit(admitted, [estimate], [seats])).allowed
    await store.finish(admitted, [seats], [estimate], -500)  # it used 100
    probe = RateCheck("tpm", estimate.key, 1000, DAY_S, 1)
    decision = await store.admit(request_id(), [probe], [seats])
    assert decision.allowed and decision.states[0].remaining == 899


async def test_a_slot_never_released_expires(store: LimitStore) -> None:
    seats = slot(1, ttl_s=2.0)
    assert (await store.admit(request_id(), [], [seats])).allowed
    assert not (await store.admit(request_id(), [], [seats])).allowed
    await asyncio.sleep(2.5)
    assert (await store.admit(request_id(), [], [seats])).allowed


async def test_concurrent_requests_take_exactly_the_free_slots(store: LimitStore) -> None:
    seats = slot(7)
    decisions = await asyncio.gather(*(store.admit(request_id(), [], [seats]) for _ in range(40)))
    assert sum(d.allowed for d in decisions) == 7


@pytest.mark.parametrize("cost", [0, -1, -1_000_000_000_000])
async def test_a_cost_that_takes_nothing_is_refused_and_changes_nothing(
    store: LimitStore, cost: int
) -> None:
    tokens = rate(10, name="tpm")
    assert (await store.admit(request_id(), [tokens], [])).allowed
    with pytest.raises(NotPositive):
        await store.admit(request_id(), [rate(10), replace(tokens, cost=cost)], [])
    decision = await store.admit(request_id(), [tokens], [])
    assert decision.allowed and decision.states[0].remaining == 8
