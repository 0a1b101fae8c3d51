"""No error, cancellation or crash inside a request's hold can leak it: the pipeline's
attempt settles or releases it whatever ends the forwarding, and the request's end
carries the settle out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import pytest

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.ledger_writer import LedgerWriter
from aisonar.billing.memory_store import MemoryBalanceStore
from aisonar.billing.prices import PriceBook
from aisonar.billing.pricing import ModelPrice, Rate
from aisonar.billing.store import DurableBalance
from aisonar.billing.throttle import FailureWindow
from aisonar.channels.models import Channel, ChannelTimeouts, ChannelWithSecret
from aisonar.gateway.admission import Limiter
from aisonar.gateway.charging import Billing
from aisonar.gateway.counters import LocalCounters
from aisonar.gateway.http import Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.pipeline import Forward, Leg, _attempt
from aisonar.gateway.quotas import SpendQuotas
from aisonar.gateway.routing import Route, UpstreamTimeouts
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.ticket import Ticket
from aisonar.gateway.upstream import UpstreamAnswer
from aisonar.gateway.wire.registry import ADAPTERS
from aisonar.limits.memory_spend import MemorySpendStore
from aisonar.limits.memory_store import MemoryLimitStore
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


IDENTITY = KeyIdentity("key_1", "usr_1", "org_1", None, None, True)
CHANNEL = Channel("chn_1", "c", "openai", "http://x", {"m": "m"}, True)
ROUTE = Route(
    ChannelWithSecret(CHANNEL, "k"),
    "m",
    ADAPTERS["openai"],
    {},
    UpstreamTimeouts.resolve(CHANNEL.timeouts, ChannelTimeouts(1.0, 1.0, 1.0)),
)


def meter() -> RequestMeter:
    return RequestMeter(
        request_id=f"req_{datetime.now(UTC).timestamp()}",
        endpoint="/v1/chat/completions",
        client_ip=None,
        identity=IDENTITY,
    )


class _Answered:
    """An upstream answering 200 at once, in place of aiohttp's session."""

    @asynccontextmanager
    async def post(self, url: str, **_: Any) -> AsyncIterator[SimpleNamespace]:
        async def read() -> bytes:
            return b"{}"

        yield SimpleNamespace(status=200, read=read, headers={})


class _Call:
    """A request whose answer is relayed by `forward`."""

    model = "m"
    stream = False
    token_estimate = 1

    def __init__(self, forward: Forward) -> None:
        self._forward = forward

    def leg(self, services: GatewayServices, exchange: Exchange, route: Route) -> Leg:
        return Leg(PRICE, 100, 100, "http://x/v1/chat/completions", {}, b"{}", self._forward)


async def attempt(billing: Billing, request: RequestMeter, forward: Forward) -> None:
    """One attempt of the pipeline on `ROUTE`, its answer relayed by `forward`."""
    session = cast(aiohttp.ClientSession, _Answered())
    services = cast(GatewayServices, SimpleNamespace(billing=billing, session=session))
    exchange = Exchange({"headers": []}, no_message, nowhere, request.request_id)
    limits = MemoryLimitStore()
    limiter = Limiter(limits, GatewayMetrics(), slot_ttl_s=60, fail_open=False)
    counters = LocalCounters(limits, billing.quotas.store, billing.store)
    admission = limiter.admission(IDENTITY, 1)
    ticket = Ticket(counters, limiter, billing.quotas, exchange, admission)
    # As the pipeline does: the attempt's settle is made when the request ends.
    try:
        await _attempt(services, exchange, request, IDENTITY, _Call(forward), ticket, None, ROUTE)
    finally:
        await ticket.end(request.usage)


async def no_message() -> dict[str, object]:
    await asyncio.sleep(3600)
    return {"type": "http.disconnect"}


async def nowhere(_: object) -> None:
    return None


@pytest.mark.parametrize("crash", [RuntimeError("handler bug"), asyncio.CancelledError()])
async def test_a_crash_mid_flight_releases_the_hold(crash: BaseException) -> None:
    store = MemoryBalanceStore(load)
    billing = billing_with(store)

    async def crashing(_: Exchange, __: UpstreamAnswer, ___: RequestMeter) -> None:
        live = await store.live("org_1")
        assert live is not None and live.held == 200
        raise crash

    with pytest.raises(type(crash)):
        await attempt(billing, meter(), crashing)
    live = await store.live("org_1")
    assert live is not None and (live.balance, live.held) == (1_000, 0)
    assert billing.ledger.pending == 0


async def test_a_crash_after_delivery_charges_what_was_delivered() -> None:
    store = MemoryBalanceStore(load)
    billing = billing_with(store)
    request = meter()

    async def broken(_: Exchange, __: UpstreamAnswer, relayed: RequestMeter) -> None:
        relayed.usage = TokenUsage(input_tokens=10, output_tokens=5, estimated=True)
        raise RuntimeError("broke after streaming some tokens")

    with pytest.raises(RuntimeError):
        await attempt(billing, request, broken)
    live = await store.live("org_1")
    assert live is not None and (live.balance, live.held) == (985, 0)
    assert request.cost == 15 and billing.ledger.pending == 1
