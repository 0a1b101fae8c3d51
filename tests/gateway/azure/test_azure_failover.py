"""Failover between an Azure OpenAI channel and a direct OpenAI one serving the same
model: whichever cannot be reached, the other answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway, free_port, running_gateway
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY
from tests.gateway.azure.conftest import MakeAzureChannel, disable, gateway_knows
from tests.support import Backend, Tenant


@pytest.fixture(scope="module")
async def failing_over(backend: Backend) -> AsyncIterator[RunningGateway]:
    """A gateway that tries up to three channels (the session's tries one)."""
    settings = backend.settings.model_copy(update={"failover_max_attempts": 3})
    async with running_gateway(settings) as running:
        yield running


@pytest.mark.parametrize("unreachable", ["azure", "openai"])
async def test_an_azure_and_a_direct_channel_stand_in_for_each_other(
    backend: Backend,
    failing_over: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    azure_channel: MakeAzureChannel,
    unreachable: str,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    azure = await azure_channel(
        running=failing_over,
        priority=1 if unreachable == "azure" else 0,
        base_url=dead if unreachable == "azure" else None,
    )
    direct_name = f"direct-{azure.model}"
    async with backend.engine.begin() as conn:
        direct = await channels.create_channel(
            conn,
            SecretBox(TEST_SECRET_KEY),
            name=direct_name,
            provider="openai",
            base_url=dead + "/v1" if unreachable == "openai" else fake_upstream.url,
            api_key=UPSTREAM_KEY,
            models=f"{azure.model}=gpt-4o-mini",
            priority=1 if unreachable == "openai" else 0,
        )
    try:
        await gateway_knows(failing_over, direct.id)
        async with openai.AsyncOpenAI(
            base_url=failing_over.url + "/v1", api_key=tenant.secret, max_retries=0
        ) as client:
            reply = await client.chat.completions.create(
                model=azure.model, messages=[{"role": "user", "content": "Hello there"}]
            )
        assert reply.choices[0].message.content
        answered_by_azure = fake_upstream.received[-1]["model"] == azure.deployment
        assert answered_by_azure == (unreachable == "openai")
    finally:
        await disable(backend, [direct_name])
