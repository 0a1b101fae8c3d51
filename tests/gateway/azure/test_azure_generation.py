"""The official SDKs of all three formats against an Azure OpenAI channel: chat, a
stream, a tool call and a streamed one, each on the deployment the model map names, with
the channel's key in Azure's `api-key` header; usage priced by the client's model name."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aisonar.billing.price_database import lookup
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from aisonar.token_usage import TokenUsage
from tests.conftest import UPSTREAM_KEY
from tests.gateway.azure.conftest import MakeAzureChannel
from tests.gateway.sdk_clients import AnthropicClient, GeminiClient, OpenAIClient, SdkClient
from tests.support import Backend, Tenant, recorded_events

CLIENTS: dict[str, Callable[[RunningGateway, str], SdkClient]] = {
    "openai": OpenAIClient,
    "anthropic": AnthropicClient,
    "gemini": GeminiClient,
}


@pytest.mark.parametrize("client_format", sorted(CLIENTS))
@pytest.mark.parametrize("ask", ["text", "stream", "tool_call", "streamed_tool_call"])
async def test_every_client_format_is_served_by_an_azure_deployment(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    azure_channel: MakeAzureChannel,
    client_format: str,
    ask: str,
) -> None:
    channel = await azure_channel()
    client = CLIENTS[client_format](gateway, tenant.secret)
    try:
        answer = await getattr(client, ask)(channel.model, "What is the weather in Paris?")
    finally:
        await client.close()
    if "tool" in ask:
        assert answer.tool_name == "get_weather"
        assert answer.tool_arguments is not None
    else:
        assert answer.text
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    sent = fake_upstream.received_headers[-1]
    assert sent["api-key"] == UPSTREAM_KEY
    assert "Authorization" not in sent
    assert fake_upstream.received[-1]["model"] == channel.deployment


async def test_usage_is_priced_by_the_model_the_client_named_not_the_deployment(
    backend: Backend, gateway: RunningGateway, tenant: Tenant, azure_channel: MakeAzureChannel
) -> None:
    # gpt-4.1-nano is in the price database; the deployment's name is not.
    channel = await azure_channel(model="gpt-4.1-nano", priority=1_000)
    client = OpenAIClient(gateway, tenant.secret)
    try:
        answer = await client.text(channel.model, "Hello there")
    finally:
        await client.close()
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.requested_model, event.upstream_model) == (channel.model, channel.deployment)
    assert event.provider == "azure"
    price = lookup("gpt-4.1-nano", "azure")
    assert price is not None
    usage = TokenUsage(input_tokens=answer.input_tokens, output_tokens=answer.output_tokens)
    assert event.cost == price.cost(usage) > 0


@pytest.mark.parametrize("client_format", ["anthropic", "gemini"])
async def test_a_reasoning_model_on_a_renamed_deployment_gets_max_completion_tokens(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    azure_channel: MakeAzureChannel,
    client_format: str,
) -> None:
    # o4-mini refuses `max_tokens`; its deployment's name does not say it is an o-series model.
    channel = await azure_channel(model="o4-mini", priority=1_000)
    client = CLIENTS[client_format](gateway, tenant.secret)
    try:
        await client.text(channel.model, "Hello there")
    finally:
        await client.close()
    sent = fake_upstream.received[-1]
    assert sent["model"] == channel.deployment
    assert "max_tokens" not in sent
    assert sent["max_completion_tokens"] > 0
