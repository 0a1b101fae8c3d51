"""Chat completions through the gateway with the official openai SDK, over real HTTP."""

from __future__ import annotations

import json
import secrets
from typing import Any

import openai

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, recorded_events


def client_for(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


async def test_completion_is_relayed_and_metered(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    marker = secrets.token_hex(8)
    async with client_for(gateway, tenant) as client:
        reply = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"say {marker}"}]
        )
    assert marker in (reply.choices[0].message.content or "")
    assert reply.usage is not None
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 200
    assert event.input_tokens == reply.usage.prompt_tokens
    assert event.output_tokens == reply.usage.completion_tokens
    assert not event.tokens_estimated
    assert event.key_id == tenant.key_id and event.user_id == tenant.user_id
    assert event.requested_model == event.upstream_model == "gpt-4o-mini"
    assert event.client_ip == "127.0.0.1"
    assert event.stream is False and event.latency_ms >= 0 and event.ttft_ms is not None
    assert event.endpoint == "/v1/chat/completions"


async def test_stream_hides_the_usage_chunk_it_asked_for(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    async with client_for(gateway, tenant) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "stream me a few words please"}],
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    assert fake_upstream.received[-1]["stream_options"] == {"include_usage": True}
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert "stream me a few words please" in text
    [event] = await recorded_events(backend, tenant, 1)
    assert event.stream is True and event.status_code == 200
    assert event.output_tokens > 0 and event.input_tokens > 0
    assert not event.tokens_estimated


async def test_stream_passes_usage_to_a_client_that_asked(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client_for(gateway, tenant) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].choices == []
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.input_tokens, event.output_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )


async def test_alias_is_sent_upstream_under_its_upstream_name(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    async with client_for(gateway, tenant) as client:
        reply = await client.chat.completions.create(
            model="smart", messages=[{"role": "user", "content": "hi"}]
        )
    assert reply.choices[0].message.content
    assert fake_upstream.received[-1]["model"] == "gpt-4o"
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.requested_model, event.upstream_model) == ("smart", "gpt-4o")


WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


async def test_tool_calls_and_tool_results(gateway: RunningGateway, tenant: Tenant) -> None:
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    async with client_for(gateway, tenant) as client:
        first = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
        )
        call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert first.choices[0].finish_reason == "tool_calls"
        assert call.function.name == "get_weather"  # type: ignore[union-attr]
        json.loads(call.function.arguments)  # type: ignore[union-attr]
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
        ]
        second = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL]
        )
    assert "sunny, 21C" in (second.choices[0].message.content or "")


async def test_streamed_tool_call(gateway: RunningGateway, tenant: Tenant) -> None:
    async with client_for(gateway, tenant) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "weather in Oslo?"}],
            tools=[WEATHER_TOOL],
            stream=True,
        )
        arguments, names = "", []
        async for chunk in stream:
            for call in chunk.choices[0].delta.tool_calls or []:
                if call.function and call.function.name:
                    names.append(call.function.name)
                arguments += (call.function.arguments or "") if call.function else ""
    assert names == ["get_weather"]
    assert isinstance(json.loads(arguments), dict)


async def test_n_and_response_format(gateway: RunningGateway, tenant: Tenant) -> None:
    async with client_for(gateway, tenant) as client:
        reply = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "give me json"}],
            n=2,
            response_format={"type": "json_object"},
        )
    assert len(reply.choices) == 2
    for choice in reply.choices:
        assert isinstance(json.loads(choice.message.content or ""), dict)


async def test_missing_usage_is_estimated_never_zero(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client_for(gateway, tenant) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "count these words please [[fault:no_usage]]"}],
        )
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "and these as well [[fault:no_usage]]"}],
            stream=True,
        )
        assert [chunk async for chunk in stream]
    events = await recorded_events(backend, tenant, 2)
    for event in events:
        assert event.tokens_estimated
        assert event.input_tokens > 5 and event.output_tokens > 5
