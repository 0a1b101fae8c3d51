"""Azure OpenAI channels on the session's fake upstream, made per test: a channel per
call of `azure_channel`, serving a model name of its own (priced by the operator, as
Azure's deployments are the operator's names), disabled when the test ends."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from aisonar.billing.prices import ModelNotPriced, set_price
from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY
from tests.support import Backend

API_VERSION = "2024-10-21"
# Credits per million tokens: the operator's price of each test's model.
INPUT_PRICE, OUTPUT_PRICE = "2.5", "10"


def entra_credentials(fake: FakeUpstream, secret: str = UPSTREAM_KEY) -> str:
    """An app registration's client credentials, its authority the fake's Entra ID."""
    return json.dumps(
        {
            "tenant_id": "00000000-0000-0000-0000-000000000001",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": secret,
            "authority_host": fake.root_url,
        }
    )


@dataclass(frozen=True)
class AzureChannel:
    name: str
    id: str
    # The name clients ask for, and the deployment it is sent to.
    model: str
    deployment: str


MakeAzureChannel = Callable[..., Awaitable[AzureChannel]]


def _priced(gateway: RunningGateway, model: str | None) -> bool:
    if model is None:
        return True
    try:
        gateway.app.runtime.services.billing.prices.price(model, "azure")
    except ModelNotPriced:
        return False
    return True


async def gateway_knows(
    gateway: RunningGateway, channel_id: str, priced_model: str | None = None
) -> None:
    """Wait for the gateway to load the channel (and the operator's price of the model)."""
    services = gateway.app.runtime.services
    for _ in range(200):
        if channel_id in services.channels.channels and _priced(gateway, priced_model):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the gateway never loaded the channel {channel_id}")


async def disable(backend: Backend, names: list[str]) -> None:
    box = SecretBox(TEST_SECRET_KEY)
    async with backend.engine.begin() as conn:
        for name in names:
            await channels.update_channel(conn, box, name, enabled=False)


@pytest.fixture
async def azure_channel(
    backend: Backend, gateway: RunningGateway, fake_upstream: FakeUpstream
) -> AsyncIterator[MakeAzureChannel]:
    """`await azure_channel(credentials=..., api_version=..., model=...)`."""
    made: list[str] = []

    async def make(
        *,
        credentials: str = UPSTREAM_KEY,
        api_version: str = API_VERSION,
        model: str | None = None,
        running: RunningGateway = gateway,
        priority: int = 0,
        base_url: str | None = None,
    ) -> AzureChannel:
        suffix = secrets.token_hex(4)
        client_model = model or f"azure-{suffix}"
        deployment = f"deployment-{suffix}"
        async with backend.engine.begin() as conn:
            created = await channels.create_channel(
                conn,
                SecretBox(TEST_SECRET_KEY),
                name=f"azure-{suffix}",
                provider="azure",
                base_url=base_url or fake_upstream.root_url,
                api_key=credentials,
                models=f"{client_model}={deployment}",
                options={"api_version": api_version},
                priority=priority,
            )
            if model is None:
                await set_price(conn, client_model, input=INPUT_PRICE, output=OUTPUT_PRICE)
        made.append(created.name)
        await gateway_knows(running, created.id, None if model else client_model)
        return AzureChannel(created.name, created.id, client_model, deployment)

    yield make
    await disable(backend, made)


async def entra_minted(fake: FakeUpstream, **settings: float) -> int:
    """How many tokens the fake's Entra ID minted so far (setting what is given first)."""
    async with httpx.AsyncClient() as client:
        answer = await client.post(fake.root_url + "/_fake/entra", json=settings)
    answer.raise_for_status()
    minted: int = answer.json()["minted"]
    return minted
