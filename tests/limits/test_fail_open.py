"""When Redis cannot be reached: rate limits fail open and spend quotas closed by default
(either as set), a balance cannot be held, all logged and counted, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.pricing import ModelPrice, Rate
from aisonar.billing.redis_store import RedisBalanceStore
from aisonar.billing.store import DurableBalance
from aisonar.billing.store import Hold as BalanceHold
from aisonar.gateway.admission import Limiter, LimitStoreUnavailable
from aisonar.gateway.charging import Hold
from aisonar.gateway.counters import Settle
from aisonar.gateway.http import Exchange
from aisonar.gateway.quotas import SpendQuotas
from aisonar.gateway.redis_counters import RedisCounters
from aisonar.gateway.ticket import BalanceStoreUnavailable, Decisions, Ticket
from aisonar.limits.models import (
    AppliedLimits,
    EffectiveLimits,
    LimitSet,
    Subject,
    SubjectKind,
)
from aisonar.limits.redis_spend import RedisSpendStore
from aisonar.limits.redis_store import RedisLimitStore
from aisonar.limits.spend import Period, SpendCheck
from aisonar.observability.metrics import GatewayMetrics
from aisonar.testing.gateway_server import free_port
from aisonar.token_usage import TokenUsage

KEY = Subject(SubjectKind.KEY, "key_1")
PRICE = ModelPrice("m", "v", Rate(1_000_000), Rate(0), Rate(0), Rate(1_000_000))


def identity(limits: LimitSet) -> KeyIdentity:
    applied = EffectiveLimits((AppliedLimits(KEY, KEY, "key_1", limits),))
    return KeyIdentity("key_1", "usr_1", "org_1", None, None, True, limits=applied)


LIMITED = identity(LimitSet(rpm=10, concurrent=2))
CAPPED = identity(LimitSet(daily_spend=10**6))


async def no_message() -> dict[str, object]:
    return {"type": "http.disconnect"}


async def nowhere(_: object) -> None:
    return None


async def never_loaded(*_: object) -> DurableBalance:
    raise AssertionError("the store is unreachable before any load")


async def never_spent(_: Subject, __: Period) -> int:
    raise AssertionError("the store is unreachable before any load")


@dataclass
class Unreachable:
    """A gateway's limiter, quotas and counters on a Redis nobody listens at."""

    limiter: Limiter
    quotas: SpendQuotas
    counters: RedisCounters
    metrics: GatewayMetrics

    def ticket(self, key: KeyIdentity) -> Ticket:
        exchange = Exchange({"headers": []}, no_message, nowhere, "req_1")
        admission = self.limiter.admission(key, 100)
        return Ticket(self.counters, self.limiter, self.quotas, exchange, admission)


@pytest.fixture
async def unreachable(request: pytest.FixtureRequest) -> AsyncIterator[Unreachable]:
    rates_open, quotas_open = request.param
    url = f"redis://127.0.0.1:{free_port()}/0"
    metrics = GatewayMetrics()
    limits = RedisLimitStore(url)
    spend = RedisSpendStore(url, never_spent, hold_ttl_s=60)
    balance = RedisBalanceStore(url, never_loaded, hold_ttl_s=60)
    counters = RedisCounters(url, limits, spend, balance)
    limiter = Limiter(limits, metrics, slot_ttl_s=60, fail_open=rates_open)
    quotas = SpendQuotas(spend, metrics, fail_open=quotas_open)
    yield Unreachable(limiter, quotas, counters, metrics)
    for store in (counters, limits, spend, balance):
        await store.close()


def hold(quotas: Sequence[SpendCheck], *, paid: bool) -> Hold:
    balance = BalanceHold("org_1", 1_000, "req_1") if paid else None
    return Hold("req_1", PRICE, 1_000_000, 1_000, quotas, balance)


@pytest.mark.parametrize("unreachable", [(True, False)], indirect=True)
async def test_rate_limits_fail_open_and_the_end_lets_the_slots_expire(
    unreachable: Unreachable, caplog: pytest.LogCaptureFixture
) -> None:
    ticket = unreachable.ticket(LIMITED)
    decided = await ticket.hold(hold((), paid=False))
    assert decided == Decisions("unchecked: limit store unreachable", None)
    await ticket.end(TokenUsage(input_tokens=10))
    assert "limit store unreachable" in caplog.text
    assert "counters unreachable" not in caplog.text  # nothing was taken to give back
    assert b"aisonar_limit_store_errors_total 1.0" in unreachable.metrics.render()


@pytest.mark.parametrize("unreachable", [(False, False)], indirect=True)
async def test_rate_limits_fail_closed_when_set(unreachable: Unreachable) -> None:
    with pytest.raises(LimitStoreUnavailable) as refused:
        await unreachable.ticket(LIMITED).hold(hold((), paid=False))
    assert refused.value.status == 503 and refused.value.retry_after == "1"
    assert refused.value.decision == "refused: limit store unreachable"


@pytest.mark.parametrize("unreachable", [(True, True), (True, False)], indirect=True)
async def test_spend_quotas_fail_open_or_closed_as_set(
    unreachable: Unreachable, caplog: pytest.LogCaptureFixture
) -> None:
    quotas = unreachable.quotas.held_on(CAPPED, 1_000)
    assert quotas
    ticket = unreachable.ticket(CAPPED)
    if unreachable.quotas.fail_open:
        decided = await ticket.hold(hold(quotas, paid=False))
        assert decided == Decisions(None, "unchecked: spend store unreachable")
        ticket.settle(Settle(quotas, None, 500))
        await ticket.end(TokenUsage(input_tokens=10))
        assert "counters unreachable" in caplog.text
    else:
        with pytest.raises(LimitStoreUnavailable) as refused:
            await ticket.hold(hold(quotas, paid=False))
        assert refused.value.status == 503
        assert refused.value.decision == "refused: spend store unreachable"
    assert "spend store unreachable" in caplog.text


@pytest.mark.parametrize("unreachable", [(True, True)], indirect=True)
async def test_a_balance_cannot_be_held_and_is_a_503(unreachable: Unreachable) -> None:
    with pytest.raises(BalanceStoreUnavailable) as refused:
        await unreachable.ticket(LIMITED).hold(hold((), paid=True))
    assert refused.value.status == 503 and refused.value.retry_after == "1"
    assert refused.value.decision == "refused: balance store unreachable"
