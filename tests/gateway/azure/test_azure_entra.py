"""An Azure OpenAI channel authenticated by Microsoft Entra ID: a token minted once and
reused, minted again before it expires, and client credentials Entra refuses."""

from __future__ import annotations

import asyncio

import openai
import pytest

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import WRONG_UPSTREAM_KEY
from tests.gateway.azure.conftest import MakeAzureChannel, entra_credentials, entra_minted
from tests.support import Tenant


async def ask(gateway: RunningGateway, tenant: Tenant, model: str) -> str:
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        reply = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hello there"}]
        )
    return reply.choices[0].message.content or ""


async def test_one_token_serves_many_requests(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    azure_channel: MakeAzureChannel,
) -> None:
    channel = await azure_channel(credentials=entra_credentials(fake_upstream))
    before = await entra_minted(fake_upstream)
    for _ in range(3):
        assert await ask(gateway, tenant, channel.model)
    assert await entra_minted(fake_upstream) == before + 1
    sent = fake_upstream.received_headers[-1]
    assert sent["Authorization"].startswith("Bearer eyJ")
    assert "api-key" not in sent


async def test_a_token_is_renewed_before_it_expires(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    azure_channel: MakeAzureChannel,
) -> None:
    before = await entra_minted(fake_upstream, token_lifetime_s=4)
    try:
        channel = await azure_channel(credentials=entra_credentials(fake_upstream))
        assert await ask(gateway, tenant, channel.model)
        first = fake_upstream.received_headers[-1]["Authorization"]
        # Renewed halfway through a life this short: before the fake would refuse it.
        await asyncio.sleep(2.2)
        assert await ask(gateway, tenant, channel.model)
        assert fake_upstream.received_headers[-1]["Authorization"] != first
        assert await entra_minted(fake_upstream) == before + 2
    finally:
        await entra_minted(fake_upstream, token_lifetime_s=3600)


async def test_client_credentials_entra_refuses_are_the_gateways_fault(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    azure_channel: MakeAzureChannel,
) -> None:
    credentials = entra_credentials(fake_upstream, secret=WRONG_UPSTREAM_KEY)
    channel = await azure_channel(credentials=credentials)
    with pytest.raises(openai.APIStatusError) as refused:
        await ask(gateway, tenant, channel.model)
    assert refused.value.status_code == 502
    assert "invalid_client" in refused.value.message
    assert WRONG_UPSTREAM_KEY not in str(refused.value.body)
