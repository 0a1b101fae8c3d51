"""An Azure OpenAI channel's other endpoints (embeddings, the Responses API), its
api-version, its key refused, and the one-token channel test."""

from __future__ import annotations

import openai
import pytest

from aisonar.channels.models import SERVER_TIMEOUTS
from aisonar.channels.services import get_channel
from aisonar.crypto import SecretBox
from aisonar.gateway.channel_test import round_trip
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY, WRONG_UPSTREAM_KEY
from tests.gateway.azure.conftest import MakeAzureChannel, entra_credentials
from tests.support import Backend, Tenant


def client_of(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


async def test_embeddings_go_to_the_deployment(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    azure_channel: MakeAzureChannel,
) -> None:
    channel = await azure_channel()
    async with client_of(gateway, tenant) as client:
        answer = await client.embeddings.create(model=channel.model, input=["a", "b"])
    assert len(answer.data) == 2 and answer.data[0].embedding
    assert answer.usage.prompt_tokens > 0
    assert fake_upstream.received_headers[-1]["api-key"] == UPSTREAM_KEY


@pytest.mark.parametrize("stream", [False, True])
async def test_the_responses_api_is_passed_to_azures_v1_surface(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    azure_channel: MakeAzureChannel,
    stream: bool,
) -> None:
    channel = await azure_channel()
    async with client_of(gateway, tenant) as client:
        if stream:
            events = await client.responses.create(model=channel.model, input="Hi", stream=True)
            [response] = [
                event.response async for event in events if event.type == "response.completed"
            ]
        else:
            response = await client.responses.create(model=channel.model, input="Hi")
    assert response.output_text
    assert response.usage is not None and response.usage.output_tokens > 0
    assert fake_upstream.received[-1]["model"] == channel.deployment


async def test_an_api_version_azure_does_not_know_is_its_refusal(
    gateway: RunningGateway, tenant: Tenant, azure_channel: MakeAzureChannel
) -> None:
    channel = await azure_channel(api_version="2023-01-01")
    async with client_of(gateway, tenant) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(
                model=channel.model, messages=[{"role": "user", "content": "Hi"}]
            )
    assert "API version not supported" in refused.value.message


async def test_a_key_azure_refuses_is_the_gateways_fault_not_the_clients(
    gateway: RunningGateway, tenant: Tenant, azure_channel: MakeAzureChannel
) -> None:
    channel = await azure_channel(credentials=WRONG_UPSTREAM_KEY)
    async with client_of(gateway, tenant) as client:
        with pytest.raises(openai.APIStatusError) as refused:
            await client.chat.completions.create(
                model=channel.model, messages=[{"role": "user", "content": "Hi"}]
            )
    assert refused.value.status_code == 502
    assert WRONG_UPSTREAM_KEY not in str(refused.value.body)


@pytest.mark.parametrize("entra", [False, True])
async def test_the_channel_test_reaches_the_deployment(
    backend: Backend, fake_upstream: FakeUpstream, azure_channel: MakeAzureChannel, entra: bool
) -> None:
    credentials = entra_credentials(fake_upstream) if entra else UPSTREAM_KEY
    channel = await azure_channel(credentials=credentials)
    async with backend.engine.connect() as conn:
        entry = await get_channel(conn, SecretBox(TEST_SECRET_KEY), channel.name)
    outcome = await round_trip(entry, channel.deployment, SERVER_TIMEOUTS)
    assert outcome.error is None
    assert outcome.status == 200
    assert outcome.usage is not None and outcome.usage.output_tokens > 0
