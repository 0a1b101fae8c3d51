"""When Redis cannot be reached: rate limits fail open and spend quotas closed by default
(either as set), logged and counted, never a 500."""

from __future__ import annotations

import pytest

from aisonar.accounts.models import KeyIdentity
from aisonar.gateway.admission import Limiter, LimitStoreUnavailable
from aisonar.gateway.http import Exchange
from aisonar.gateway.quotas import SpendQuotas
from aisonar.limits.models import (
    AppliedLimits,
    EffectiveLimits,
    LimitSet,
    Subject,
    SubjectKind,
)
from aisonar.limits.redis_spend import RedisSpendStore
from aisonar.limits.redis_store import RedisLimitStore
from aisonar.limits.spend import Period
from aisonar.observability.metrics import GatewayMetrics
from aisonar.testing.gateway_server import free_port

KEY = Subject(SubjectKind.KEY, "key_1")
LIMITED = KeyIdentity(
    "key_1",
    "usr_1",
    "org_1",
    None,
    None,
    True,
    limits=EffectiveLimits((AppliedLimits(KEY, KEY, "key_1", LimitSet(rpm=10, concurrent=2)),)),
)


async def no_message() -> dict[str, object]:
    return {"type": "http.disconnect"}


async def nowhere(_: object) -> None:
    return None


def exchange() -> Exchange:
    return Exchange({"headers": []}, no_message, nowhere, "req_1")


@pytest.mark.parametrize("fail_open", [True, False])
async def test_an_unreachable_store_admits_or_refuses_as_set(
    fail_open: bool, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = GatewayMetrics()
    store = RedisLimitStore(f"redis://127.0.0.1:{free_port()}/0")
    limiter = Limiter(store, metrics, slot_ttl_s=60, fail_open=fail_open)
    try:
        if fail_open:
            admission = await limiter.admit(exchange(), LIMITED, 100)
            assert not (admission.slots or admission.tokens)
            assert admission.decision == "unchecked: limit store unreachable"
        else:
            with pytest.raises(LimitStoreUnavailable) as refused:
                await limiter.admit(exchange(), LIMITED, 100)
            assert refused.value.status == 503 and refused.value.retry_after == "1"
            assert refused.value.decision == "refused: limit store unreachable"
    finally:
        await store.close()
    assert "limit store unreachable" in caplog.text
    assert b"aisonar_limit_store_errors_total 1.0" in metrics.render()


CAPPED = KeyIdentity(
    "key_1",
    "usr_1",
    "org_1",
    None,
    None,
    True,
    limits=EffectiveLimits((AppliedLimits(KEY, KEY, "key_1", LimitSet(daily_spend=10**6)),)),
)


@pytest.mark.parametrize("fail_open", [True, False])
async def test_an_unreachable_spend_store_admits_or_refuses_as_set(
    fail_open: bool, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = GatewayMetrics()

    async def never_loaded(_: Subject, __: Period) -> int:
        raise AssertionError("the store is unreachable before any load")

    store = RedisSpendStore(f"redis://127.0.0.1:{free_port()}/0", never_loaded, hold_ttl_s=60)
    quotas = SpendQuotas(store, metrics, fail_open=fail_open)
    try:
        if fail_open:
            held = await quotas.hold(CAPPED, "req_1", 1_000)
            await quotas.settle("req_1", held, 500)
            assert held.decision == "unchecked: spend store unreachable"
        else:
            with pytest.raises(LimitStoreUnavailable) as refused:
                await quotas.hold(CAPPED, "req_1", 1_000)
            assert refused.value.status == 503
            assert refused.value.decision == "refused: spend store unreachable"
    finally:
        await store.close()
    assert "spend store unreachable" in caplog.text
    assert b"aisonar_limit_store_errors_total 1.0" in metrics.render()
