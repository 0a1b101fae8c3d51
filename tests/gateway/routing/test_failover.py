"""Failover between channels, end to end: clients do not notice a failing channel, and
the balance moves by exactly what the answering attempts cost."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from aisonar.billing.money import parse_amount
from aisonar.channels.models import ChannelTimeouts
from aisonar.exports.usage import export_usage
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway, free_port
from tests.gateway.routing.conftest import (
    HELLO,
    ChannelSpec,
    Clock,
    MakeChannels,
    ask,
    openai_client,
)
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    recorded_events,
    settled_balance,
)

QUICK = ChannelTimeouts(first_byte_s=0.5)
FUNDED = parse_amount("100")


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


def failing_url(fault: str, spare: FakeUpstream, count: int = 100) -> str:
    """A channel address that fails every request with `fault`."""
    if fault == "refused":
        return dead_url()
    spare.fail_next(fault, count)
    return spare.url


async def charged_once(backend: Backend, tenant: Tenant) -> Any:
    """The tenant's one usage event, once its cost is settled in the ledger."""
    [event] = await recorded_events(backend, tenant, 1)
    await settled_balance(backend.engine, tenant.org_id, FUNDED - event.cost)
    await assert_ledger_invariant(backend.engine, tenant.org_id)
    return event


async def no_holds(gateway: RunningGateway, tenant: Tenant) -> None:
    live = await gateway.app.runtime.services.billing.store.live(tenant.org_id)
    assert live is None or live.held == 0


@pytest.mark.parametrize("fault", ["500", "429", "timeout", "refused"])
async def test_a_failing_channel_is_invisible_to_clients(
    fault: str,
    routed_gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    make_channels: MakeChannels,
    spare_upstream: FakeUpstream,
    fake_upstream: FakeUpstream,
    clock: Clock,
) -> None:
    # The breaker's clock stands still: however slow the machine, no cooldown ends here.
    model, (bad, good) = await make_channels(
        ChannelSpec(failing_url(fault, spare_upstream), priority=1, timeouts=QUICK),
        ChannelSpec(fake_upstream.url),
    )
    async with openai_client(routed_gateway, tenant) as client:
        answers = [await ask(client, model, stream=n % 2 == 1) for n in range(5)]
    assert all(answers), answers
    events = await recorded_events(backend, tenant, 5)
    assert all(e.status_code == 200 and e.channel_id == good for e in events)
    outcome = "connect_error" if fault == "refused" else fault
    outcome = outcome if not outcome.isdigit() else f"http_{outcome}"
    [first, *_] = events
    assert [(a["channel_id"], a["outcome"]) for a in first.attempts] == [
        (bad, outcome),
        (good, "ok"),
    ]
    # A Retry-After takes the channel out of rotation at once, and connections refused
    # do after the minimum of requests (3 here); one key's 500s and timeouts never do,
    # since its own requests may have caused them.
    failed_over = [e for e in events if e.attempts]
    assert len(failed_over) == {"429": 1, "refused": 3}.get(fault, 5)
    assert all(e.cost > 0 and not e.tokens_estimated for e in events)
    spent = sum(e.cost for e in events)
    await settled_balance(backend.engine, tenant.org_id, FUNDED - spent)
    await assert_ledger_invariant(backend.engine, tenant.org_id)
    await no_holds(routed_gateway, tenant)


@pytest.mark.parametrize(
    ("fault", "status"), [("500", 502), ("503", 503), ("timeout", 504), ("refused", 502)]
)
async def test_when_every_channel_fails_the_client_gets_an_error_and_pays_nothing(
    fault: str,
    status: int,
    routed_gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    make_channels: MakeChannels,
    spare_upstream: FakeUpstream,
) -> None:
    model, ids = await make_channels(
        ChannelSpec(failing_url(fault, spare_upstream), priority=1, timeouts=QUICK),
        ChannelSpec(failing_url(fault, spare_upstream), timeouts=QUICK),
    )
    async with openai_client(routed_gateway, tenant) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model=model, messages=HELLO)
    assert caught.value.status_code == status
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == status and event.cost == 0
    # One attempt per channel: none is tried again after it failed the request.
    assert [a["channel_id"] for a in event.attempts] == ids
    # Exports carry the attempts as JSON, in CSV as in JSON lines.
    async with backend.engine.connect() as conn:
        csv_text = b"".join([c async for c in export_usage(conn, fmt="csv", org_id=tenant.org_id)])
        jsonl = b"".join([c async for c in export_usage(conn, fmt="jsonl", org_id=tenant.org_id)])
    [csv_row] = csv.DictReader(io.StringIO(csv_text.decode()))
    assert orjson.loads(csv_row["attempts"]) == orjson.loads(jsonl)["attempts"] == event.attempts
    await settled_balance(backend.engine, tenant.org_id, FUNDED)
    await assert_ledger_invariant(backend.engine, tenant.org_id)
    await no_holds(routed_gateway, tenant)


async def test_an_anthropic_client_gets_the_failure_in_its_own_format(
    routed_gateway: RunningGateway,
    tenant: Tenant,
    make_channels: MakeChannels,
) -> None:
    model, _ = await make_channels(ChannelSpec(dead_url()), ChannelSpec(dead_url()))
    client = anthropic.AsyncAnthropic(
        base_url=routed_gateway.url, api_key=tenant.secret, max_retries=0
    )
    async with client:
        with pytest.raises(anthropic.APIStatusError) as caught:
            await client.messages.create(
                model=model, max_tokens=16, messages=[{"role": "user", "content": "Hello there"}]
            )
    assert caught.value.status_code == 502
    body: Any = caught.value.body
    assert body["type"] == "error" and body["error"]["type"] == "api_error"


async def test_a_stream_cut_after_its_first_byte_is_not_retried(
    routed_gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    make_channels: MakeChannels,
    spare_upstream: FakeUpstream,
    fake_upstream: FakeUpstream,
) -> None:
    spare_upstream.fail_next("cut")
    model, (cut, _) = await make_channels(
        ChannelSpec(spare_upstream.url, priority=1), ChannelSpec(fake_upstream.url)
    )
    backup_requests = fake_upstream.received_count
    received = ""
    async with openai_client(routed_gateway, tenant) as client:
        stream = await client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "a long answer please"}],
            stream=True,
        )
        with pytest.raises(openai.APIError, match="broke off"):
            async for chunk in stream:
                received += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert received
    event = await charged_once(backend, tenant)
    assert event.status_code == 502 and event.channel_id == cut and event.attempts is None
    # Charged for what was delivered, flagged as an estimate.
    assert event.tokens_estimated and event.output_tokens > 0 and event.cost > 0
    assert fake_upstream.received_count == backup_requests


async def test_a_client_leaving_mid_stream_closes_the_upstream_request_at_once(
    routed_gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    make_channels: MakeChannels,
    spare_upstream: FakeUpstream,
) -> None:
    spare_upstream.config.tokens_per_second = 50
    model, _ = await make_channels(ChannelSpec(spare_upstream.url))
    body = orjson.dumps(
        {"model": model, "stream": True, "messages": [{"role": "user", "content": "w " * 300}]}
    )
    headers = {"Authorization": f"Bearer {tenant.secret}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:
        response = await session.post(routed_gateway.url + "/v1/chat/completions", data=body)
        assert response.status == 200
        for _ in range(3):
            await response.content.readuntil(b"\n\n")
        left_at = time.monotonic()
        response.close()
        for _ in range(100):
            if spare_upstream.streams_abandoned_at:
                break
            await asyncio.sleep(0.005)
    [closed_at] = spare_upstream.streams_abandoned_at
    assert closed_at - left_at < 0.1
    event = await charged_once(backend, tenant)
    assert event.status_code == 499 and event.tokens_estimated and event.output_tokens > 0


async def test_a_client_leaving_before_a_whole_answer_pays_for_its_prompt(
    routed_gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    make_channels: MakeChannels,
    spare_upstream: FakeUpstream,
) -> None:
    spare_upstream.config.latency_s = 5
    model, _ = await make_channels(ChannelSpec(spare_upstream.url))
    async with openai.AsyncOpenAI(
        base_url=routed_gateway.url + "/v1", api_key=tenant.secret, max_retries=0, timeout=0.3
    ) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model=model, messages=HELLO)
    event = await charged_once(backend, tenant)
    assert event.status_code == 499 and event.latency_ms < 1000
    assert event.tokens_estimated and event.input_tokens > 0 and event.output_tokens == 0
    assert event.cost > 0


async def test_channels_of_one_priority_share_traffic_by_weight(
    routed_gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    make_channels: MakeChannels,
    fake_upstream: FakeUpstream,
) -> None:
    model, (heavy, light) = await make_channels(
        ChannelSpec(fake_upstream.url, weight=3), ChannelSpec(fake_upstream.url, weight=1)
    )
    body = orjson.dumps({"model": model, "messages": HELLO, "max_tokens": 1})
    headers = {"Authorization": f"Bearer {tenant.secret}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(200):
            async with session.post(routed_gateway.url + "/v1/chat/completions", data=body) as r:
                assert r.status == 200
    events = await recorded_events(backend, tenant, 200)
    served = [e.channel_id for e in events]
    # 150 expected of 200; the bounds are five standard deviations away.
    assert 120 < served.count(heavy) < 180 and served.count(light) == 200 - served.count(heavy)
