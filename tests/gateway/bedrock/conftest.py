"""Bedrock channels on the session's fake upstream, made per test: a channel per call of
`bedrock_channel`, serving a model name of its own mapped to a Bedrock inference profile
(priced from genai-prices' AWS Bedrock catalogue), disabled when the test ends."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.testing.fake_aws import FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import TEST_SECRET_KEY
from tests.support import Backend

REGION = "us-east-1"
PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
# genai-prices' AWS Bedrock rates of PROFILE, micro-units per million tokens: the regional
# profile's, not Anthropic's own (3 and 15), which a lookup falling back would charge.
INPUT_RATE, CACHE_READ_RATE, CACHE_WRITE_RATE, OUTPUT_RATE = (
    3_300_000,
    330_000,
    4_125_000,
    16_500_000,
)


def key_pair(secret: str = FAKE_AWS_SECRET_ACCESS_KEY, **more: str) -> str:
    return json.dumps(
        {"access_key_id": FAKE_AWS_ACCESS_KEY_ID, "secret_access_key": secret, **more}
    )


def cost(input_tokens: int, output_tokens: int, read: int = 0, written: int = 0) -> int:
    """A request's exact charge: `input_tokens` are the uncached ones."""
    total = (
        input_tokens * INPUT_RATE
        + read * CACHE_READ_RATE
        + written * CACHE_WRITE_RATE
        + output_tokens * OUTPUT_RATE
    )
    return -(-total // 1_000_000)


@dataclass(frozen=True)
class BedrockChannel:
    name: str
    id: str
    # The name clients ask for; it is sent to Bedrock as PROFILE.
    model: str


MakeBedrockChannel = Callable[..., Awaitable[BedrockChannel]]


async def gateway_knows(gateway: RunningGateway, model: str) -> None:
    for _ in range(200):
        if model in gateway.app.runtime.services.channels.models():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the gateway never loaded the channel of {model}")


@pytest.fixture
async def bedrock_channel(
    backend: Backend, gateway: RunningGateway, fake_upstream: FakeUpstream
) -> AsyncIterator[MakeBedrockChannel]:
    """`await bedrock_channel(credentials=...)`: a key pair by default."""
    made: list[str] = []
    box = SecretBox(TEST_SECRET_KEY)

    async def make(*, credentials: str | None = None) -> BedrockChannel:
        suffix = secrets.token_hex(4)
        model = f"claude-bedrock-{suffix}"
        async with backend.engine.begin() as conn:
            created = await channels.create_channel(
                conn,
                box,
                name=f"bedrock-{suffix}",
                provider="bedrock",
                base_url=fake_upstream.root_url,
                api_key=credentials or key_pair(),
                models=f"{model}={PROFILE}",
                options={"region": REGION},
            )
        made.append(created.name)
        await gateway_knows(gateway, model)
        return BedrockChannel(created.name, created.id, model)

    yield make
    async with backend.engine.begin() as conn:
        for name in made:
            await channels.update_channel(conn, box, name, enabled=False)
