"""The circuit breaker, end to end and driven by a clock the test controls: a failing
channel leaves rotation, stays out for its cooldown, and comes back through a probe."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import openai
import pytest

from aisonar.channels.models import ChannelState
from aisonar.gateway.health import ChannelHealth
from aisonar.testing.fake_upstream import FakeUpstream, FakeUpstreamConfig
from aisonar.testing.gateway_server import RunningGateway, free_port
from tests.conftest import UPSTREAM_KEY
from tests.gateway.routing.conftest import ChannelSpec, Clock, MakeChannels
from tests.support import Backend, Tenant, recorded_events

HELLO = [{"role": "user", "content": "Hello there"}]


async def state_becomes(health: ChannelHealth, channel_id: str, state: ChannelState) -> None:
    for _ in range(100):
        if health.state(channel_id) is state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{channel_id} stayed {health.state(channel_id)}, not {state}")


async def test_a_failing_channel_cools_down_then_a_probe_brings_it_back(
    routed_gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    make_channels: MakeChannels,
    fake_upstream: FakeUpstream,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aisonar.gateway.prober")
    health = routed_gateway.app.runtime.services.failover.health
    port = free_port()
    model, (primary, backup) = await make_channels(
        ChannelSpec(f"http://127.0.0.1:{port}/v1", priority=1), ChannelSpec(fake_upstream.url)
    )

    async def ask() -> None:
        async with openai.AsyncOpenAI(
            base_url=routed_gateway.url + "/v1", api_key=tenant.secret, max_retries=0
        ) as client:
            await client.chat.completions.create(model=model, messages=HELLO)  # type: ignore[arg-type]

    for _ in range(3):
        await ask()
    assert health.state(primary) is ChannelState.OPEN
    async with FakeUpstream(FakeUpstreamConfig(api_key=UPSTREAM_KEY), port=port) as revived:
        await ask()
        # Out of rotation: not even tried, though it would answer now.
        events = await recorded_events(backend, tenant, 4)
        assert events[-1].channel_id == backup and events[-1].attempts is None
        clock.advance(4.9)
        await asyncio.sleep(0.3)  # several probe rounds: none is due yet
        assert health.state(primary) is ChannelState.OPEN
        clock.advance(0.2)
        await state_becomes(health, primary, ChannelState.HALF_OPEN)
        await ask()
        events = await recorded_events(backend, tenant, 5)
        assert events[-1].channel_id == primary
        assert health.state(primary) is ChannelState.CLOSED
        assert len(revived.received) == 1  # the probe sent no body; the request did
    transitions = [message for message in caplog.messages if f"({primary})" in message]
    assert [m.split(": ", 1)[1].split(" (")[0] for m in transitions] == [
        "closed -> open",
        "open -> half_open",
        "half_open -> closed",
    ]
    async with (
        aiohttp.ClientSession() as session,
        session.get(routed_gateway.url + "/metrics") as response,
    ):
        metrics = await response.text()
    name = f"{model}-0"
    assert f'aisonar_channel_state{{channel="{name}"}} 0.0' in metrics
    for state in ("open", "half_open", "closed"):
        assert (
            f'aisonar_channel_state_changes_total{{channel="{name}",state="{state}"}} 1.0'
            in metrics
        )
    assert (
        f'aisonar_upstream_failed_attempts_total{{channel="{name}",outcome="connect_error"}} 3.0'
        in metrics
    )


async def test_a_failed_probe_doubles_the_cooldown(
    routed_gateway: RunningGateway,
    tenant: Tenant,
    make_channels: MakeChannels,
    fake_upstream: FakeUpstream,
    clock: Clock,
) -> None:
    health = routed_gateway.app.runtime.services.failover.health
    model, (primary, _) = await make_channels(
        ChannelSpec(f"http://127.0.0.1:{free_port()}/v1", priority=1),
        ChannelSpec(fake_upstream.url),
    )
    async with openai.AsyncOpenAI(
        base_url=routed_gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        for _ in range(3):
            await client.chat.completions.create(model=model, messages=HELLO)  # type: ignore[arg-type]
    assert health.state(primary) is ChannelState.OPEN
    clock.advance(5.1)
    # The probe fails (nothing listens there): the next cooldown is 10 s.
    for _ in range(100):
        if health.seconds_until_available([primary]) > 9:
            break
        await asyncio.sleep(0.02)
    assert 9.5 < health.seconds_until_available([primary]) <= 10
    assert health.state(primary) is ChannelState.OPEN
