"""The official SDKs (openai, anthropic, google-genai) against a Bedrock channel over real
HTTP: whole and streamed answers and tool calls translated to Converse and back, SigV4 signed
and checked by the fake, charged Bedrock's own price to the micro-unit; Claude's prompt
caching carried from an Anthropic client's `cache_control` (and an OpenAI client's
`prompt_cache_breakpoint`) to Converse cache points, with its reads and writes charged."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletionSystemMessageParam
from sqlalchemy import select

from aisonar.billing.money import parse_amount
from aisonar.store.tables import ledger_entries
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.bedrock.conftest import PROFILE, BedrockChannel, MakeBedrockChannel, cost
from tests.gateway.sdk_clients import SDKS, Answer, SdkClient
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    recorded_events,
    settled_balance,
)

CACHE_POINT = {"cachePoint": {"type": "default"}}
TEXT_FINISH = {"openai": "stop", "anthropic": "end_turn", "gemini": "STOP"}
TOOL_FINISH = {"openai": "tool_calls", "anthropic": "tool_use", "gemini": "STOP"}
# Long enough to be worth caching, and different in each test.
LONG_RULES = "Answer in the voice of a ship's log. " * 60


@pytest.fixture
async def channel(bedrock_channel: MakeBedrockChannel) -> BedrockChannel:
    return await bedrock_channel()


@pytest.fixture(params=list(SDKS), ids=lambda sdk: f"{sdk}-sdk")
async def client(
    request: pytest.FixtureRequest, gateway: RunningGateway, tenant: Tenant
) -> AsyncIterator[tuple[str, SdkClient]]:
    sdk: str = request.param
    made = SDKS[sdk](gateway, tenant.secret)
    yield sdk, made
    await made.close()


async def charged_exactly(backend: Backend, tenant: Tenant, answer: Answer) -> None:
    """The request's event and ledger entry: Bedrock's price of what the client was told."""
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 200, event.error_message
    assert event.upstream_model == PROFILE and not event.tokens_estimated
    assert (event.input_tokens, event.output_tokens) == (answer.input_tokens, answer.output_tokens)
    uncached = event.input_tokens - event.cached_input_tokens - event.cache_write_tokens
    expected = cost(
        uncached, event.output_tokens, event.cached_input_tokens, event.cache_write_tokens
    )
    assert event.cost == expected > 0 and event.price_version.startswith("genai-prices")
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - expected)
    async with backend.engine.connect() as conn:
        [entry] = await conn.execute(
            select(ledger_entries).where(ledger_entries.c.request_id == event.id)
        )
    assert entry.amount == -expected
    await assert_ledger_invariant(backend.engine, tenant.org_id)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_text(
    client: tuple[str, SdkClient],
    channel: BedrockChannel,
    stream: bool,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
) -> None:
    sdk, sdk_client = client
    marker = secrets.token_hex(8)

    ask = sdk_client.stream if stream else sdk_client.text
    answer = await ask(channel.model, f"say {marker}")

    assert marker in answer.text and answer.finish == TEXT_FINISH[sdk]
    sent = fake_upstream.received[-1]
    assert sent["messages"][-1]["content"] == [{"text": f"say {marker}"}]
    assert "inferenceConfig" in sent and "model" not in sent
    await charged_exactly(backend, tenant, answer)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_tool_call(
    client: tuple[str, SdkClient],
    channel: BedrockChannel,
    stream: bool,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
) -> None:
    sdk, sdk_client = client
    marker = secrets.token_hex(8)

    ask = sdk_client.streamed_tool_call if stream else sdk_client.tool_call
    answer = await ask(channel.model, f"say {marker}")

    assert answer.tool_name == "get_weather"
    assert answer.tool_arguments == {"city": f"say {marker}"}
    assert answer.finish == TOOL_FINISH[sdk]
    [tool] = fake_upstream.received[-1]["toolConfig"]["tools"]
    assert tool["toolSpec"]["name"] == "get_weather"
    await charged_exactly(backend, tenant, answer)


async def test_claudes_cache_control_becomes_cache_points_charged_as_read_and_written(
    gateway: RunningGateway,
    channel: BedrockChannel,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
) -> None:
    rules = f"{secrets.token_hex(8)} {LONG_RULES}"
    sdk = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=tenant.secret, max_retries=0)
    async with sdk:
        replies = []
        for _ in range(2):
            raw = await sdk.messages.with_raw_response.create(
                model=channel.model,
                max_tokens=64,
                system=[{"type": "text", "text": rules, "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": "Where are we?"}],
            )
            assert "cache_control" not in raw.headers.get("x-aisonar-dropped-fields", "")
            replies.append(await raw.parse())

    sent = fake_upstream.received[-1]
    assert sent["system"] == [{"text": rules}, CACHE_POINT]
    first, second = (reply.usage for reply in replies)
    assert first.cache_creation_input_tokens and not first.cache_read_input_tokens
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert not second.cache_creation_input_tokens
    events = await recorded_events(backend, tenant, 2)
    assert [event.cache_write_tokens for event in events] == [first.cache_creation_input_tokens, 0]
    assert [event.cached_input_tokens for event in events] == [0, second.cache_read_input_tokens]
    for event, usage in zip(events, (first, second), strict=True):
        expected = cost(
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens or 0,
            usage.cache_creation_input_tokens or 0,
        )
        assert event.cost == expected
    await assert_ledger_invariant(backend.engine, tenant.org_id)


async def test_an_openai_clients_cache_breakpoint_is_a_cache_point(
    gateway: RunningGateway, channel: BedrockChannel, fake_upstream: FakeUpstream, tenant: Tenant
) -> None:
    rules = f"{secrets.token_hex(8)} {LONG_RULES}"
    system: ChatCompletionSystemMessageParam = {
        "role": "system",
        "content": [
            {"type": "text", "text": rules, "prompt_cache_breakpoint": {"mode": "explicit"}}
        ],
    }
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as sdk:
        reply = await sdk.chat.completions.create(
            model=channel.model,
            messages=[system, {"role": "user", "content": "Where are we?"}],
        )

    assert fake_upstream.received[-1]["system"] == [{"text": rules}, CACHE_POINT]
    assert reply.usage is not None and reply.usage.prompt_tokens_details is not None
    assert reply.usage.prompt_tokens_details.cached_tokens == 0
