"""Failover between a cloud channel and a direct one for the same model: Claude on Bedrock
failing (its requests signed, checked and refused with Bedrock's 503) hands the request to
Anthropic's own API, and the client, an Anthropic SDK, does not notice."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import anthropic
import pytest

from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY
from tests.gateway.bedrock.conftest import PROFILE, REGION, key_pair
from tests.gateway.routing.conftest import Clock, routed_gateway_knows
from tests.support import Backend, Tenant, recorded_events


@pytest.fixture
async def claude_on_both(
    backend: Backend,
    routed_gateway: RunningGateway,
    spare_upstream: FakeUpstream,
    fake_upstream: FakeUpstream,
) -> AsyncIterator[tuple[str, str, str]]:
    """A model served by a Bedrock channel first (priority 1) and Anthropic's API second:
    (the model, the Bedrock channel's id, the Anthropic channel's id)."""
    model = f"routed-claude-{secrets.token_hex(4)}"
    box = SecretBox(TEST_SECRET_KEY)
    async with backend.engine.begin() as conn:
        bedrock = await channels.create_channel(
            conn,
            box,
            name=f"{model}-bedrock",
            provider="bedrock",
            base_url=spare_upstream.root_url,
            api_key=key_pair(),
            models=f"{model}={PROFILE}",
            options={"region": REGION},
            priority=1,
        )
        direct = await channels.create_channel(
            conn,
            box,
            name=f"{model}-anthropic",
            provider="anthropic",
            base_url=fake_upstream.root_url,
            api_key=UPSTREAM_KEY,
            models=f"{model}=claude-haiku-4-5",
        )
    await routed_gateway_knows(routed_gateway, model)
    yield model, bedrock.id, direct.id
    async with backend.engine.begin() as conn:
        for name in (bedrock.name, direct.name):
            await channels.update_channel(conn, box, name, enabled=False)


async def test_a_failing_bedrock_channel_fails_over_to_anthropics_own_api(
    claude_on_both: tuple[str, str, str],
    routed_gateway: RunningGateway,
    spare_upstream: FakeUpstream,
    backend: Backend,
    tenant: Tenant,
    clock: Clock,
) -> None:
    model, bedrock, direct = claude_on_both
    spare_upstream.fail_next("503", 10)

    async with anthropic.AsyncAnthropic(
        base_url=routed_gateway.url, api_key=tenant.secret, max_retries=0
    ) as client:
        message = await client.messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "Hello there"}]
        )

    assert message.content[0].type == "text" and message.content[0].text == "Echo: Hello there"
    # The Bedrock attempt got past the signature check before Bedrock's 503.
    assert "inferenceConfig" in spare_upstream.received[-1]
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 200 and event.channel_id == direct
    assert event.upstream_model == "claude-haiku-4-5" and event.cost > 0
    assert [(a["channel_id"], a["outcome"]) for a in event.attempts] == [
        (bedrock, "http_503"),
        (direct, "ok"),
    ]
