"""Over real HTTP: delivery-only fields dropped and named in a header, answer-changing ones
refused all at once, and an upstream's `param` and `code` passed on in the client's format."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, recorded_events

CLAUDE, GEMINI, GPT = "claude-haiku-4-5", "gemini-2.5-flash", "gpt-4o-mini"
HEADER = "x-aisonar-dropped-fields"
HI: Any = [{"role": "user", "content": "hi"}]
# A 1x1 transparent PNG.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6"
    "kgAAAABJRU5ErkJggg=="
)
# The fake OpenAI upstream refuses a tool without a string name, naming the field.
UNNAMED_TOOL: Any = {"type": "function", "function": {"name": 5, "parameters": {}}}


def openai_client(gateway: RunningGateway, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


def claude_client(gateway: RunningGateway, secret: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway.url, api_key=secret, max_retries=0)


async def test_an_openai_stream_to_gemini_names_what_it_dropped(
    gateway: RunningGateway, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    async with openai_client(gateway, tenant.secret) as client:
        response = await client.chat.completions.with_raw_response.create(
            model=GEMINI,
            messages=HI,
            stream=True,
            stream_options={"include_usage": True},
            user="user-7",
            parallel_tool_calls=False,
            prompt_cache_key="cache-1",
        )
        chunks = [chunk async for chunk in response.parse()]

    assert response.headers[HEADER] == (
        "stream_options, prompt_cache_key, user, parallel_tool_calls"
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    sent = fake_upstream.received[-1]
    assert "user" not in sent and "toolConfig" not in sent


async def test_a_request_that_drops_nothing_has_no_header(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    async with openai_client(gateway, tenant.secret) as client:
        response = await client.chat.completions.with_raw_response.create(
            model=CLAUDE, messages=HI, user="user-7", max_tokens=16
        )

    assert HEADER not in response.headers


async def test_every_answer_changing_field_is_refused_at_once(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    forwarded = fake_upstream.received_count
    async with claude_client(gateway, tenant.secret) as client:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(
                model=GPT,
                max_tokens=64,
                messages=HI,
                extra_body={
                    "top_k": 5,
                    "container": "container_1",
                    "mcp_servers": [],
                    "context_management": {"edits": []},  # dropped: not refused
                },
            )

    message = refused.value.body["error"]["message"]  # type: ignore[index]
    assert all(f"`{name}`" in message for name in ("top_k", "container", "mcp_servers"))
    assert "context_management" not in message
    assert HEADER not in refused.value.response.headers
    assert fake_upstream.received_count == forwarded
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.status_code, event.cost) == (400, 0)


@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_an_openai_client_sees_the_upstreams_param_and_code(
    gateway: RunningGateway, tenant: Tenant, model: str
) -> None:
    """Passed through to OpenAI, and translated to Anthropic (whose refusal of the name
    comes back as its own `invalid_request_error`)."""
    async with openai_client(gateway, tenant.secret) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model=model, messages=HI, tools=[UNNAMED_TOOL])

    if model == GPT:
        assert (refused.value.param, refused.value.code) == ("tools", "invalid_value")
    else:
        assert refused.value.code is None and refused.value.type == "invalid_request_error"


async def test_an_openai_client_sees_geminis_status_as_the_code(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    tool: Any = {"type": "function", "function": {"name": "no spaces allowed", "parameters": {}}}
    async with openai_client(gateway, tenant.secret) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model=GEMINI, messages=HI, tools=[tool])

    assert refused.value.code == "INVALID_ARGUMENT"


async def test_an_anthropic_client_sees_the_upstreams_param_and_code(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    tool: Any = {"name": 5, "input_schema": {"type": "object"}}
    async with claude_client(gateway, tenant.secret) as client:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(model=GPT, max_tokens=64, messages=HI, tools=[tool])

    error = refused.value.body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == ("tools", "invalid_value")


async def test_a_gemini_client_sees_the_code_as_an_error_detail(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "[[fault:429]]"}]}]}
    path = f"/v1beta/models/{GPT}:generateContent"
    async with (
        aiohttp.ClientSession(gateway.url) as http,
        http.post(path, json=body, headers={"x-goog-api-key": tenant.secret}) as response,
    ):
        assert response.status == 429
        error = (await response.json())["error"]

    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "rate_limit_exceeded",
            "domain": "upstream",
        }
    ]


async def test_a_client_cannot_write_the_dropped_fields_header(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    async with openai_client(gateway, tenant.secret) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(
                model=GEMINI, messages=HI, extra_body={"aisonar_dropped_fields": ["a\r\nb: c"]}
            )

    assert refused.value.param == "aisonar_dropped_fields"
    assert HEADER not in refused.value.response.headers


@pytest.mark.parametrize("model", [GPT, GEMINI])
async def test_a_tool_results_image_reaches_the_model(
    gateway: RunningGateway, tenant: Tenant, fake_upstream: FakeUpstream, model: str
) -> None:
    image: Any = {"type": "base64", "media_type": "image/png", "data": PIXEL}
    messages: Any = [
        {"role": "user", "content": "What is on the screen?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "image", "source": image}],
                }
            ],
        },
    ]
    tool: Any = {"name": "screenshot", "input_schema": {"type": "object"}}
    async with claude_client(gateway, tenant.secret) as client:
        answer = await client.messages.create(
            model=model, max_tokens=64, messages=messages, tools=[tool]
        )

    assert answer.stop_reason in ("end_turn", "tool_use")
    sent = fake_upstream.received[-1]
    if model == GPT:
        assert sent["messages"][2]["role"] == "tool"
        seen = sent["messages"][3]
        assert seen["role"] == "user"
        assert seen["content"][0]["image_url"]["url"] == f"data:image/png;base64,{PIXEL}"
    else:
        response = sent["contents"][2]["parts"][0]["functionResponse"]
        assert response["parts"] == [{"inlineData": {"mimeType": "image/png", "data": PIXEL}}]
