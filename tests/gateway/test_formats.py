"""The Anthropic and Gemini endpoints beyond the happy path: their own authentication and
errors, refusals that name what cannot be translated, multi-turn tool use and images
across formats, token counting and the Responses API."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.sdk_clients import WEATHER_PARAMETERS, GeminiClient
from tests.support import Backend, Tenant, recorded_events, usage_count

CLAUDE, GEMINI, GPT = "claude-haiku-4-5", "gemini-2.5-flash", "gpt-4o-mini"
ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}
# A 1x1 transparent PNG.
PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


@pytest.fixture
async def http(gateway: RunningGateway) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(gateway.url) as session:
        yield session


def claude_client(gateway: RunningGateway, secret: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway.url, api_key=secret, max_retries=0)


def openai_client(gateway: RunningGateway, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


# --- authentication and errors in each client's own format -----------------------------------


async def test_anthropic_errors_are_anthropic_shaped(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    async with claude_client(gateway, "sk-sonar-not-a-key") as client:
        with pytest.raises(anthropic.AuthenticationError) as refused:
            await client.messages.create(
                model=CLAUDE, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    assert refused.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Incorrect API key provided."},
        "request_id": refused.value.response.headers["x-request-id"],
    }
    async with claude_client(gateway, tenant.secret) as client:
        with pytest.raises(anthropic.NotFoundError) as missing:
            await client.messages.create(
                model="no-such-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    assert "no-such-model" in str(missing.value)


async def test_anthropic_key_in_x_api_key_and_its_version_headers_passed_on(
    http: aiohttp.ClientSession, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    body = {"model": CLAUDE, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": tenant.secret}  # and no anthropic-version: the gateway sends one
    async with http.post("/v1/messages", json=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["type"] == "message"
    assert fake_upstream.received_headers[-1]["anthropic-version"] == "2023-06-01"
    headers |= {"anthropic-version": "2099-01-01", "anthropic-beta": "some-beta-2099"}
    async with http.post("/v1/messages", json=body, headers=headers) as response:
        assert response.status == 200, await response.text()
    sent = fake_upstream.received_headers[-1]
    assert (sent["anthropic-version"], sent["anthropic-beta"]) == ("2099-01-01", "some-beta-2099")
    assert sent["x-api-key"] != tenant.secret


async def test_gemini_key_in_the_query_and_gemini_shaped_errors(
    http: aiohttp.ClientSession, tenant: Tenant
) -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    path = f"/v1beta/models/{GEMINI}:generateContent"
    async with http.post(f"{path}?key={tenant.secret}", json=body) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["candidates"][0]["content"]["role"] == "model"
    async with http.post(f"{path}?key=sk-sonar-wrong", json=body) as response:
        assert response.status == 401
        error = (await response.json())["error"]
        assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")


async def test_gemini_sdk_gets_its_own_error_types(gateway: RunningGateway, tenant: Tenant) -> None:
    client = GeminiClient(gateway, tenant.secret)
    try:
        with pytest.raises(genai_errors.ClientError) as missing:
            await client.text("no-such-model", "hi")
        assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"
        with pytest.raises(genai_errors.ServerError) as failed:
            await client.text(CLAUDE, "say [[fault:500]]")
        assert failed.value.code == 502
    finally:
        await client.close()


async def test_upstream_rate_limit_reaches_an_anthropic_client_from_openai(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with claude_client(gateway, tenant.secret) as client:
        with pytest.raises(anthropic.RateLimitError) as limited:
            await client.messages.create(
                model=GPT, max_tokens=16, messages=[{"role": "user", "content": "[[fault:429]]"}]
            )
    assert limited.value.response.headers["retry-after"] == "1"
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.status_code, event.cost) == (429, 0)


@pytest.mark.parametrize("model", ["wrong-key-claude", "wrong-key-gemini"])
async def test_a_channel_key_the_provider_refuses_is_a_502(
    gateway: RunningGateway, tenant: Tenant, model: str
) -> None:
    async with openai_client(gateway, tenant.secret) as client:
        with pytest.raises(openai.APIStatusError) as failed:
            await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
    assert failed.value.status_code == 502
    assert "credentials" in failed.value.message


async def test_a_translated_stream_cut_midway_ends_with_the_clients_error_event(
    http: aiohttp.ClientSession, backend: Backend, tenant: Tenant
) -> None:
    body = {
        "model": GEMINI,
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "a long enough answer [[fault:cut]]"}],
    }
    headers = {"x-api-key": tenant.secret, **ANTHROPIC_HEADERS}
    async with http.post("/v1/messages", json=body, headers=headers) as response:
        assert response.status == 200
        events = (await response.read()).decode()
    assert "event: content_block_delta" in events
    assert events.rstrip().split("\n\n")[-1].startswith("event: error\ndata: ")
    assert "message_stop" not in events
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 502 and event.tokens_estimated and event.output_tokens > 0


# --- refusals that change nothing ------------------------------------------------------------


async def test_what_cannot_be_translated_is_refused_by_name(
    gateway: RunningGateway,
    http: aiohttp.ClientSession,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
) -> None:
    forwarded = fake_upstream.received_count
    async with openai_client(gateway, tenant.secret) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(
                model=CLAUDE, messages=[{"role": "user", "content": "hi"}], logprobs=True
            )
    assert refused.value.code == "unsupported_feature"
    assert refused.value.param == "logprobs" and "Anthropic" in refused.value.message
    body = {"contents": [{"parts": [{"text": "hi"}]}], "cachedContent": "cachedContents/x"}
    path = f"/v1beta/models/{GPT}:generateContent"
    async with http.post(path, json=body, headers={"x-goog-api-key": tenant.secret}) as response:
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["status"] == "INVALID_ARGUMENT" and "cachedContent" in error["message"]
    assert fake_upstream.received_count == forwarded
    events = await recorded_events(backend, tenant, 2)
    assert [(e.status_code, e.cost) for e in events] == [(400, 0), (400, 0)]


# --- conversations across formats ------------------------------------------------------------


async def test_openai_tool_round_trip_through_anthropic(
    gateway: RunningGateway, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    tools: Any = [
        {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_PARAMETERS}}
    ]
    messages: Any = [{"role": "user", "content": "weather in Paris?"}]
    async with openai_client(gateway, tenant.secret) as client:
        first = await client.chat.completions.create(model=CLAUDE, messages=messages, tools=tools)
        [call] = first.choices[0].message.tool_calls or []
        assert call.type == "function"
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
        ]
        second = await client.chat.completions.create(model=CLAUDE, messages=messages, tools=tools)
    assert "sunny, 21 C" in (second.choices[0].message.content or "")
    sent = fake_upstream.received[-1]["messages"]
    assert [turn["role"] for turn in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][-1] == {
        "type": "tool_use",
        "id": call.id,
        "name": "get_weather",
        "input": json.loads(call.function.arguments),
    }
    assert sent[2]["content"][0]["type"] == "tool_result"
    assert sent[2]["content"][0]["tool_use_id"] == call.id


async def test_anthropic_tool_round_trip_through_gemini(
    gateway: RunningGateway, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    tools: Any = [{"name": "get_weather", "input_schema": WEATHER_PARAMETERS}]
    messages: Any = [{"role": "user", "content": "weather in Rome?"}]
    async with claude_client(gateway, tenant.secret) as client:
        first = await client.messages.create(
            model=GEMINI, max_tokens=128, messages=messages, tools=tools
        )
        [call] = [block for block in first.content if block.type == "tool_use"]
        messages += [
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "rainy"}],
            },
        ]
        second = await client.messages.create(
            model=GEMINI, max_tokens=128, messages=messages, tools=tools
        )
    assert first.stop_reason == "tool_use" and second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and "rainy" in second.content[0].text
    sent = fake_upstream.received[-1]["contents"]
    assert sent[1]["parts"][0]["functionCall"]["name"] == "get_weather"
    assert sent[2]["parts"][0]["functionResponse"]["name"] == "get_weather"


async def test_images_cross_formats(
    gateway: RunningGateway, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    image: Any = {"type": "base64", "media_type": "image/png", "data": PIXEL}
    async with claude_client(gateway, tenant.secret) as client:
        await client.messages.create(
            model=GPT,
            max_tokens=32,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": image},
                        {"type": "text", "text": "what is this?"},
                    ],
                }
            ],
        )
    [part, _] = fake_upstream.received[-1]["messages"][0]["content"]
    assert part == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}
    async with openai_client(gateway, tenant.secret) as client:
        await client.chat.completions.create(
            model=GEMINI,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                        {"type": "text", "text": "and this?"},
                    ],
                }
            ],
        )
    [part, _] = fake_upstream.received[-1]["contents"][0]["parts"]
    assert part == {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/a.png"}}


async def test_a_system_prompt_and_stop_sequences_reach_gemini(
    gateway: RunningGateway, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    async with claude_client(gateway, tenant.secret) as client:
        message = await client.messages.create(
            model=GEMINI,
            max_tokens=64,
            system="Be brief.",
            stop_sequences=["STOP"],
            extra_body={"temperature": 0.2},
            messages=[{"role": "user", "content": "one two STOP three"}],
        )
    sent = fake_upstream.received[-1]
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent["generationConfig"]["stopSequences"] == ["STOP"]
    assert sent["generationConfig"]["temperature"] == 0.2
    assert message.content[0].type == "text"
    assert message.content[0].text == "Echo: one two "


async def test_gemini_thinking_is_anthropic_thinking(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    async with claude_client(gateway, tenant.secret) as client:
        message = await client.messages.create(
            model=GEMINI,
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "think first"}],
        )
    kinds = [block.type for block in message.content]
    assert kinds == ["thinking", "text"]


# --- token counting and the Responses API ----------------------------------------------------


@pytest.mark.parametrize("model", [CLAUDE, GPT])
async def test_count_tokens_is_free_and_answers_for_every_provider(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, model: str
) -> None:
    async with claude_client(gateway, tenant.secret) as client:
        counted = await client.messages.count_tokens(
            model=model, messages=[{"role": "user", "content": "count these few words"}]
        )
    assert counted.input_tokens > 0
    assert await usage_count(backend.engine, tenant.org_id) == 0


async def test_responses_api_is_passed_through_and_metered(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    marker = secrets.token_hex(6)
    async with openai_client(gateway, tenant.secret) as client:
        plain = await client.responses.create(model=GPT, input=f"say {marker}")
        stream = await client.responses.create(model=GPT, input=f"say {marker}", stream=True)
        completed = [event async for event in stream if event.type == "response.completed"]
    assert marker in plain.output_text
    [streamed] = [event.response for event in completed]
    events = await recorded_events(backend, tenant, 2)
    for event, response in zip(events, (plain, streamed), strict=True):
        assert response.usage is not None
        assert event.endpoint == "/v1/responses" and not event.tokens_estimated
        assert (event.input_tokens, event.output_tokens) == (
            response.usage.input_tokens,
            response.usage.output_tokens,
        )
    assert [e.stream for e in events] == [False, True]


async def test_gemini_sdk_on_v1beta_too(gateway: RunningGateway, tenant: Tenant) -> None:
    client = genai.Client(
        api_key=tenant.secret,
        http_options=genai_types.HttpOptions(base_url=gateway.url, api_version="v1beta"),
    )
    response = await client.aio.models.generate_content(model=CLAUDE, contents="hello there")
    assert response.text is not None and "hello there" in response.text
    await client.aio.aclose()
