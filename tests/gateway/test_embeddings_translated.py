"""OpenAI-format embeddings of a model on a Gemini channel: sent to Gemini as one
batchEmbedContents, answered in OpenAI's list (floats or the SDK's default base64),
held, charged and recorded like any embeddings request."""

from __future__ import annotations

import openai
import pytest

from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, assert_ledger_invariant, recorded_events


def client(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


@pytest.mark.parametrize("encoding", ["float", "base64"])
async def test_openai_embeddings_of_a_gemini_model(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, encoding: str
) -> None:
    async with client(gateway, tenant) as sdk:
        inputs = ["first text", "second text"]
        if encoding == "float":
            answer = await sdk.embeddings.create(
                model="gemini-embedding-001", input=inputs, encoding_format="float"
            )
        else:
            # The SDK asks for base64 when no format is named, and decodes it itself.
            answer = await sdk.embeddings.create(model="gemini-embedding-001", input=inputs)
    assert [item.index for item in answer.data] == [0, 1]
    assert all(len(item.embedding) > 10 for item in answer.data)
    assert answer.data[0].embedding != answer.data[1].embedding
    assert answer.model == "gemini-embedding-001"
    assert answer.usage.prompt_tokens > 0
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.status_code, event.upstream_model) == (200, "gemini-embedding-001")
    assert event.cost > 0 and event.input_tokens == answer.usage.prompt_tokens
    await assert_ledger_invariant(backend.engine, tenant.org_id)


async def test_token_arrays_and_models_without_embeddings_are_refused(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    async with client(gateway, tenant) as sdk:
        with pytest.raises(openai.BadRequestError) as tokens:
            await sdk.embeddings.create(model="gemini-embedding-001", input=[[1, 2, 3]])
        assert tokens.value.body["param"] == "input"  # type: ignore[index]
        with pytest.raises(openai.BadRequestError) as claude:
            await sdk.embeddings.create(model="claude-haiku-4-5", input="hi")
        assert "no embeddings" in claude.value.message
