"""Vertex AI channels on the session's fake upstream, made per test: a channel per call of
`vertex_channel`, with a service account the fake trusts (its `token_uri` the fake's Google
OAuth endpoint), serving two model names of its own: one mapped to a Gemini model, one to a
Claude model, as Vertex names them (priced from genai-prices' catalogue under those names).
Disabled when the test ends."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import TEST_SECRET_KEY
from tests.support import Backend

PROJECT = "sonar-test-project"
LOCATION = "us-east5"
GEMINI = "gemini-2.5-flash"
CLAUDE = "claude-sonnet-4-5@20250929"
# genai-prices' rates, micro-units per million tokens (input, output).
GEMINI_RATES = (300_000, 2_500_000)
CLAUDE_RATES = (3_000_000, 15_000_000)


def cost(rates: tuple[int, int], input_tokens: int, output_tokens: int) -> int:
    total = input_tokens * rates[0] + output_tokens * rates[1]
    return -(-total // 1_000_000)


@dataclass(frozen=True)
class VertexChannel:
    name: str
    id: str
    # The names clients ask for, sent to Vertex as GEMINI and CLAUDE.
    gemini: str
    claude: str


MakeVertexChannel = Callable[..., Awaitable[VertexChannel]]


@pytest.fixture(scope="session")
def service_account(fake_upstream: FakeUpstream) -> dict[str, Any]:
    """A key file the fake trusts."""
    return fake_upstream.google_service_account(PROJECT)


async def gateway_knows(gateway: RunningGateway, model: str) -> None:
    for _ in range(200):
        if model in gateway.app.runtime.services.channels.models():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the gateway never loaded the channel of {model}")


@pytest.fixture
async def vertex_channel(
    backend: Backend,
    gateway: RunningGateway,
    fake_upstream: FakeUpstream,
    service_account: dict[str, Any],
) -> AsyncIterator[MakeVertexChannel]:
    """`await vertex_channel(credentials=...)`: the session's service account by default."""
    made: list[str] = []
    box = SecretBox(TEST_SECRET_KEY)

    async def make(*, credentials: dict[str, Any] | None = None) -> VertexChannel:
        suffix = secrets.token_hex(4)
        gemini, claude = f"vertex-gemini-{suffix}", f"vertex-claude-{suffix}"
        async with backend.engine.begin() as conn:
            created = await channels.create_channel(
                conn,
                box,
                name=f"vertex-{suffix}",
                provider="vertex",
                base_url=fake_upstream.root_url,
                api_key=json.dumps(credentials or service_account),
                models=f"{gemini}={GEMINI},{claude}={CLAUDE}",
                options={"project": PROJECT, "location": LOCATION},
            )
        made.append(created.name)
        await gateway_knows(gateway, claude)
        return VertexChannel(created.name, created.id, gemini, claude)

    yield make
    async with backend.engine.begin() as conn:
        for name in made:
            await channels.update_channel(conn, box, name, enabled=False)


@contextmanager
def token_lifetime(fake: FakeUpstream, seconds: float) -> Iterator[None]:
    """The fake's Google tokens last `seconds` within the block."""
    before = fake.config.google_token_lifetime_s
    fake.config.google_token_lifetime_s = seconds
    try:
        yield
    finally:
        fake.config.google_token_lifetime_s = before
