"""A gateway with failover and the circuit breaker on (the shared one has them off, so
its tests see the faults they inject), spare fake upstreams, and channels made per test."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from aisonar.channels import services as channels
from aisonar.channels.models import SERVER_TIMEOUTS, ChannelTimeouts
from aisonar.crypto import SecretBox
from aisonar.testing.fake_upstream import FakeUpstream, FakeUpstreamConfig
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY
from tests.support import Backend, Tenant

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there"}]

FAILOVER_SETTINGS = {
    "failover_max_attempts": 3,
    "channel_breaker_min_requests": 3,
    "channel_breaker_min_keys": 2,
    "channel_cooldown_s": 5.0,
    "channel_max_cooldown_s": 60.0,
    "channel_probe_interval_s": 0.05,
}


@pytest.fixture(scope="session")
async def routed_gateway(backend: Backend) -> AsyncIterator[RunningGateway]:
    settings = backend.settings.model_copy(update=FAILOVER_SETTINGS)
    async with running_gateway(settings) as running:
        yield running


def openai_client(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


async def ask(client: openai.AsyncOpenAI, model: str, *, stream: bool) -> str:
    if not stream:
        reply = await client.chat.completions.create(model=model, messages=HELLO)
        return reply.choices[0].message.content or ""
    chunks = await client.chat.completions.create(model=model, messages=HELLO, stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])


@pytest.fixture
async def spare_upstream() -> AsyncIterator[FakeUpstream]:
    """A second provider account, to fail while the session's fake answers."""
    async with FakeUpstream(FakeUpstreamConfig(api_key=UPSTREAM_KEY), port=0) as upstream:
        yield upstream


@dataclass(frozen=True)
class ChannelSpec:
    base_url: str
    upstream_model: str = "gpt-4o-mini"
    provider: str = "openai"
    priority: int = 0
    weight: int = 1
    timeouts: ChannelTimeouts = SERVER_TIMEOUTS


MakeChannels = Callable[..., Awaitable[tuple[str, list[str]]]]


@pytest.fixture
async def make_channels(
    backend: Backend, routed_gateway: RunningGateway
) -> AsyncIterator[MakeChannels]:
    """`await make_channels(spec, ...)` -> (a model name served by exactly these channels,
    their ids in order); they are disabled when the test ends."""
    box = SecretBox(TEST_SECRET_KEY)
    made: list[str] = []

    async def make(*specs: ChannelSpec) -> tuple[str, list[str]]:
        model = f"routed-{secrets.token_hex(4)}"
        ids = []
        async with backend.engine.begin() as conn:
            for number, spec in enumerate(specs):
                created = await channels.create_channel(
                    conn,
                    box,
                    name=f"{model}-{number}",
                    provider=spec.provider,
                    base_url=spec.base_url,
                    api_key=UPSTREAM_KEY,
                    models=f"{model}={spec.upstream_model}",
                    priority=spec.priority,
                    weight=spec.weight,
                    timeouts=spec.timeouts,
                )
                made.append(created.name)
                ids.append(created.id)
        await routed_gateway_knows(routed_gateway, model)
        return model, ids

    yield make
    async with backend.engine.begin() as conn:
        for name in made:
            await channels.update_channel(conn, box, name, enabled=False)


async def routed_gateway_knows(gateway: RunningGateway, model: str) -> None:
    import asyncio

    for _ in range(200):
        if model in gateway.app.runtime.services.channels.models():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the gateway never loaded the channels of {model}")


class Clock:
    """The breaker's clock, moved by hand: a cooldown ends only when a test says so."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(routed_gateway: RunningGateway) -> Iterator[Clock]:
    health = routed_gateway.app.runtime.services.failover.health
    controlled = Clock()
    health.clock = controlled
    yield controlled
    health.forget_except(())
    health.clock = time.monotonic
