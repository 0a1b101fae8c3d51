"""A Vertex AI channel's other endpoints and headers: token counts go to Vertex's own
counting (Gemini's `:countTokens`, Claude's `count-tokens:rawPredict`) with the channel's
token, a pass-through keeps the client's `anthropic-beta`, and embeddings, which Vertex
serves in another shape, are refused plainly."""

from __future__ import annotations

import anthropic
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.vertex.conftest import CLAUDE, MakeVertexChannel
from tests.support import Tenant


def gemini_client(gateway: RunningGateway, tenant: Tenant) -> genai.Client:
    return genai.Client(
        api_key=tenant.secret,
        http_options=genai_types.HttpOptions(
            base_url=gateway.url, retry_options=genai_types.HttpRetryOptions(attempts=1)
        ),
    )


async def test_token_counts_are_vertexs_own(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    vertex_channel: MakeVertexChannel,
) -> None:
    channel = await vertex_channel()
    before = fake_upstream.received_count
    counted = await gemini_client(gateway, tenant).aio.models.count_tokens(
        model=channel.gemini, contents="How many tokens is this?"
    )
    assert counted.total_tokens and counted.total_tokens > 0
    async with anthropic.AsyncAnthropic(
        base_url=gateway.url, api_key=tenant.secret, max_retries=0
    ) as client:
        claude = await client.messages.count_tokens(
            model=channel.claude, messages=[{"role": "user", "content": "How many tokens?"}]
        )
    assert claude.input_tokens > 0
    # Both reached the fake, with the channel's token; Claude's body names Vertex's model.
    assert fake_upstream.received_count == before + 2
    assert fake_upstream.received[-1]["model"] == CLAUDE
    assert fake_upstream.received_headers[-1]["Authorization"].startswith("Bearer ya29.fake-")


async def test_a_passed_through_claude_request_keeps_its_beta_header(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    vertex_channel: MakeVertexChannel,
) -> None:
    channel = await vertex_channel()
    beta = "context-1m-2025-08-07"
    async with anthropic.AsyncAnthropic(
        base_url=gateway.url, api_key=tenant.secret, max_retries=0
    ) as client:
        message = await client.messages.create(
            model=channel.claude,
            max_tokens=32,
            messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"anthropic-beta": beta},
        )
    assert message.content[0].type == "text" and message.content[0].text == "Echo: Hi"
    assert fake_upstream.received_headers[-1]["anthropic-beta"] == beta


async def test_embeddings_are_refused_in_the_clients_format(
    gateway: RunningGateway, tenant: Tenant, vertex_channel: MakeVertexChannel
) -> None:
    channel = await vertex_channel()
    with pytest.raises(genai_errors.ClientError) as refused:
        await gemini_client(gateway, tenant).aio.models.embed_content(
            model=channel.gemini, contents="embed me"
        )
    assert refused.value.code == 400
    assert "Vertex AI channel" in str(refused.value.message)
