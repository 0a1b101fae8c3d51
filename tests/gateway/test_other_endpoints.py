"""Embeddings, models, health and readiness through the gateway."""

from __future__ import annotations

import aiohttp
import openai
import pytest

from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.test_chat_completions import client_for
from tests.support import Backend, Tenant, recorded_events


async def test_embeddings_base64_and_float(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client_for(gateway, tenant) as client:
        packed = await client.embeddings.create(
            model="text-embedding-3-small", input=["one", "two"], dimensions=64
        )
        floats = await client.embeddings.create(
            model="text-embedding-3-small", input="three", encoding_format="float"
        )
    assert [len(item.embedding) for item in packed.data] == [64, 64]
    assert len(floats.data[0].embedding) == 1536
    events = await recorded_events(backend, tenant, 2)
    assert [e.input_tokens for e in events] == [
        packed.usage.prompt_tokens,
        floats.usage.prompt_tokens,
    ]
    assert all(e.endpoint == "/v1/embeddings" and e.output_tokens == 0 for e in events)


async def test_models_list_and_retrieve(gateway: RunningGateway, tenant: Tenant) -> None:
    async with client_for(gateway, tenant) as client:
        listed = {model.id async for model in client.models.list()}
        assert {"gpt-4o-mini", "gpt-4o", "smart", "text-embedding-3-small"} <= listed
        assert (await client.models.retrieve("smart")).id == "smart"
        with pytest.raises(openai.NotFoundError):
            await client.models.retrieve("no-such-model")


async def test_health_and_readiness(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(gateway.url + "/healthz") as health:
            assert health.status == 200 and (await health.json())["status"] == "ok"
        async with session.get(gateway.url + "/readyz") as ready:
            assert ready.status == 200 and (await ready.json())["status"] == "ready"
