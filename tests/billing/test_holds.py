"""No error, cancellation or crash inside a request's hold can leak it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.ledger_writer import LedgerWriter
from aisonar.billing.memory_store import MemoryBalanceStore
from aisonar.billing.prices import PriceBook
from aisonar.billing.pricing import ModelPrice, Rate
from aisonar.billing.store import DurableBalance
from aisonar.billing.throttle import FailureWindow
from aisonar.channels.models import Channel, ChannelTimeouts, ChannelWithSecret
from aisonar.gateway.charging import Billing, held
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.providers.registry import ADAPTERS
from aisonar.gateway.quotas import SpendQuotas
from aisonar.gateway.routing import Route, UpstreamTimeouts
from aisonar.limits.memory_spend import MemorySpendStore
from aisonar.limits.models import Subject
from aisonar.limits.spend import Period
from aisonar.observability.metrics import GatewayMetrics
from aisonar.store.engine import create_engine
from aisonar.token_usage import TokenUsage

PRICE = ModelPrice("m", "v", Rate(1_000_000), Rate(0), Rate(0), Rate(1_000_000))


async def no_spend(_: Subject, __: Period) -> int:
    return 0


async def load(_: str) -> DurableBalance:
    return DurableBalance(balance=1_000, through_entry=0)


def billing_with(store: MemoryBalanceStore) -> Billing:
    # The ledger writer is never flushed here, so its engine never connects.
    unused_engine = create_engine("sqlite+aiosqlite://")
    return Billing(
        store=store,
        prices=PriceBook({}),
        ledger=LedgerWriter(unused_engine, flush_interval_s=1),
        default_max_output_tokens=100,
        redeem_failures=FailureWindow(1),
        payment_webhook_secret="",
        currency="USD",
        quotas=SpendQuotas(MemorySpendStore(no_spend), GatewayMetrics(), fail_open=False),
    )


def meter() -> RequestMeter:
    identity = KeyIdentity("key_1", "usr_1", "org_1", None, None, True)
    channel = Channel("chn_1", "c", "openai", "http://x", {"m": "m"}, True)
    return RequestMeter(
        request_id=f"req_{datetime.now(UTC).timestamp()}",
        endpoint="/v1/chat/completions",
        client_ip=None,
        identity=identity,
        route=Route(
            ChannelWithSecret(channel, "k"),
            "m",
            ADAPTERS["openai"],
            {},
            UpstreamTimeouts.resolve(channel.timeouts, ChannelTimeouts(1.0, 1.0, 1.0)),
        ),
    )


@pytest.mark.parametrize("crash", [RuntimeError("handler bug"), asyncio.CancelledError()])
async def test_a_crash_mid_flight_releases_the_hold(crash: BaseException) -> None:
    store = MemoryBalanceStore(load)
    billing = billing_with(store)
    with pytest.raises(type(crash)):
        async with held(billing, meter(), PRICE, input_bound=100, output_bound=100):
            live = await store.live("org_1")
            assert live is not None and live.held == 200
            raise crash
    live = await store.live("org_1")
    assert live is not None and (live.balance, live.held) == (1_000, 0)
    assert billing.ledger.pending == 0


async def test_a_crash_after_delivery_charges_what_was_delivered() -> None:
    store = MemoryBalanceStore(load)
    billing = billing_with(store)
    request = meter()
    with pytest.raises(RuntimeError):
        async with held(billing, request, PRICE, input_bound=100, output_bound=100):
            request.usage = TokenUsage(input_tokens=10, output_tokens=5, estimated=True)
            raise RuntimeError("broke after streaming some tokens")
    live = await store.live("org_1")
    assert live is not None and (live.balance, live.held) == (985, 0)
    assert request.cost == 15 and billing.ledger.pending == 1
