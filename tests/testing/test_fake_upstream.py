"""The fake upstream speaks OpenAI's API well enough for the official SDK, and fails on demand."""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from aisonar.testing.fake_upstream import FakeUpstream, FakeUpstreamConfig
from aisonar.usage.tokens import count_chat_prompt_tokens, count_text_tokens
from tests.testing.forecast import FORECAST, FORECAST_SCHEMA

MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME_TOOL: Any = {"type": "function", "function": {"name": "get_time", "parameters": {}}}


def user(text: str) -> list[Any]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(port=0) as upstream:
        yield upstream


@pytest.fixture
async def client(fake: FakeUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    fake.clear_faults()
    async with openai.AsyncOpenAI(base_url=fake.url, api_key="x", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def control(fake: FakeUpstream) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://{fake.host}:{fake.port}") as session:
        yield session


async def collect(stream: AsyncIterator[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
    return [chunk async for chunk in stream]


def streamed_text(chunks: list[ChatCompletionChunk], index: int = 0) -> str:
    return "".join(
        choice.delta.content or ""
        for chunk in chunks
        for choice in chunk.choices
        if choice.index == index
    )


# --- chat completions ------------------------------------------------------------------------


async def test_plain_completion_echoes_the_prompt_with_usage(
    fake: FakeUpstream, client: openai.AsyncOpenAI
) -> None:
    messages = user("hello MARKER-41 world")
    reply = await client.chat.completions.create(model=MODEL, messages=messages)

    assert reply.id.startswith("chatcmpl-")
    assert reply.object == "chat.completion"
    assert reply.model == MODEL
    assert reply.system_fingerprint
    choice = reply.choices[0]
    assert choice.message.content == "Echo: hello MARKER-41 world"
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == count_chat_prompt_tokens(messages, MODEL)
    assert reply.usage.completion_tokens == count_text_tokens(choice.message.content, MODEL)
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.usage.prompt_tokens_details is not None
    assert reply.usage.prompt_tokens_details.cached_tokens == 0
    assert reply.usage.completion_tokens_details is not None
    assert reply.usage.completion_tokens_details.reasoning_tokens == 0
    assert fake.received[-1] == {"model": MODEL, "messages": messages}


async def test_stream_without_include_usage_has_no_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=MODEL, messages=user("stream me please"), stream=True
    )
    chunks = await collect(stream)

    first = chunks[0].choices[0]
    assert first.delta.role == "assistant"
    assert first.delta.content == ""
    assert len(chunks) > 3
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert all("usage" not in chunk.model_fields_set for chunk in chunks)
    assert streamed_text(chunks) == "Echo: stream me please"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices[0].delta.content is None


async def test_stream_with_include_usage_ends_with_a_usage_chunk(
    client: openai.AsyncOpenAI,
) -> None:
    messages = user("count my tokens")
    stream = await client.chat.completions.create(
        model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = await collect(stream)

    *body, last = chunks
    assert all("usage" in chunk.model_fields_set and chunk.usage is None for chunk in body)
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == count_chat_prompt_tokens(messages, MODEL)
    assert last.usage.completion_tokens == count_text_tokens("Echo: count my tokens", MODEL)
    assert body[-1].choices[0].finish_reason == "stop"


async def test_n_choices(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(model=MODEL, messages=user("twice"), n=2)

    assert [choice.index for choice in reply.choices] == [0, 1]
    assert {choice.message.content for choice in reply.choices} == {"Echo: twice"}
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 2 * count_text_tokens("Echo: twice", MODEL)


async def test_n_choices_stream_interleaved(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=MODEL, messages=user("one two three"), n=2, stream=True
    )
    chunks = await collect(stream)

    indexes = [chunk.choices[0].index for chunk in chunks]
    assert indexes[:4] == [0, 1, 0, 1]
    assert streamed_text(chunks, 0) == streamed_text(chunks, 1) == "Echo: one two three"


async def test_max_tokens_truncates_with_finish_reason_length(client: openai.AsyncOpenAI) -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    reply = await client.chat.completions.create(model=MODEL, messages=user(text), max_tokens=4)

    choice = reply.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.content
    assert ("Echo: " + text).startswith(choice.message.content)
    assert reply.usage is not None
    assert reply.usage.completion_tokens == count_text_tokens(choice.message.content, MODEL)
    assert 0 < reply.usage.completion_tokens <= 4


async def test_json_response_format_replies_with_a_json_object(
    client: openai.AsyncOpenAI,
) -> None:
    reply = await client.chat.completions.create(
        model=MODEL, messages=user("as json"), response_format={"type": "json_object"}
    )

    assert json.loads(reply.choices[0].message.content or "") == {"echo": "as json"}


async def test_json_schema_response_format_replies_with_a_valid_value(
    client: openai.AsyncOpenAI,
) -> None:
    schema = FORECAST_SCHEMA
    response_format: Any = {"type": "json_schema", "json_schema": {"name": "f", "schema": schema}}
    reply = await client.chat.completions.create(
        model=MODEL, messages=user("in Oslo"), response_format=response_format
    )

    assert json.loads(reply.choices[0].message.content or "") == FORECAST


# --- tool calls ------------------------------------------------------------------------------


async def test_tool_call(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(
        model=MODEL, messages=user("weather in Paris"), tools=[WEATHER_TOOL, TIME_TOOL]
    )

    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.id.startswith("call_")
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "weather in Paris"}


async def test_tool_choice_names_the_function_or_turns_tools_off(
    client: openai.AsyncOpenAI,
) -> None:
    named = await client.chat.completions.create(
        model=MODEL,
        messages=user("what time"),
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    off = await client.chat.completions.create(
        model=MODEL, messages=user("no tools"), tools=[WEATHER_TOOL], tool_choice="none"
    )

    assert named.choices[0].message.tool_calls is not None
    named_call = named.choices[0].message.tool_calls[0]
    assert named_call.type == "function"
    assert named_call.function.name == "get_time"
    assert off.choices[0].message.content == "Echo: no tools"


async def test_tool_result_is_echoed_as_text(client: openai.AsyncOpenAI) -> None:
    messages: list[Any] = [
        *user("weather in Paris"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
    ]
    reply = await client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL]
    )

    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content == "Echo: sunny, 21C"


async def test_streamed_tool_call_arguments_accumulate(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=MODEL, messages=user("weather in New York City"), tools=[WEATHER_TOOL], stream=True
    )
    chunks = await collect(stream)

    first = chunks[0].choices[0].delta
    assert first.tool_calls is not None
    assert first.tool_calls[0].id is not None
    assert first.tool_calls[0].id.startswith("call_")
    assert first.tool_calls[0].function is not None
    assert first.tool_calls[0].function.name == "get_weather"
    fragments = [
        call.function.arguments or ""
        for chunk in chunks[1:]
        for call in chunk.choices[0].delta.tool_calls or []
        if call.function is not None
    ]
    assert len(fragments) > 1
    assert json.loads("".join(fragments)) == {"city": "weather in New York City"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


# --- embeddings and models -------------------------------------------------------------------


async def test_embeddings_base64_by_default_and_float_on_request(
    client: openai.AsyncOpenAI, fake: FakeUpstream
) -> None:
    inputs = ["first text", "second text"]
    packed = await client.embeddings.create(model=EMBEDDING_MODEL, input=inputs)
    assert fake.received[-1]["encoding_format"] == "base64"
    floats = await client.embeddings.create(
        model=EMBEDDING_MODEL, input=inputs, encoding_format="float"
    )

    assert [item.index for item in packed.data] == [0, 1]
    assert [item.embedding for item in packed.data] == [item.embedding for item in floats.data]
    first, second = (item.embedding for item in floats.data)
    assert len(first) == 1536
    assert first != second
    assert math.isclose(math.fsum(value * value for value in first), 1.0, rel_tol=1e-4)
    tokens = sum(count_text_tokens(text, EMBEDDING_MODEL) for text in inputs)
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == tokens


async def test_embeddings_dimensions_and_token_arrays(client: openai.AsyncOpenAI) -> None:
    reply = await client.embeddings.create(
        model=EMBEDDING_MODEL, input=[[1, 2, 3], [4, 5]], dimensions=64
    )

    assert [len(item.embedding) for item in reply.data] == [64, 64]
    assert reply.usage.prompt_tokens == 5


async def test_models_list(client: openai.AsyncOpenAI, fake: FakeUpstream) -> None:
    models = [model async for model in client.models.list()]

    assert [model.id for model in models] == list(fake.config.models)
    assert all(model.object == "model" and model.owned_by for model in models)


# --- validation and auth ---------------------------------------------------------------------


async def test_invalid_requests_are_400_in_openai_format(
    fake: FakeUpstream, control: aiohttp.ClientSession, client: openai.AsyncOpenAI
) -> None:
    async with control.post("/v1/chat/completions", data=b"{not json") as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}

    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model=MODEL, messages=[])
    assert caught.value.param == "messages"
    async with control.post("/v1/chat/completions", json={"messages": user("x")}) as response:
        assert response.status == 400
        assert (await response.json())["error"]["param"] == "model"


async def test_api_key_is_required_when_configured() -> None:
    async with FakeUpstream(FakeUpstreamConfig(api_key="sk-right")) as guarded:
        async with openai.AsyncOpenAI(
            base_url=guarded.url, api_key="sk-wrong", max_retries=0
        ) as wrong:
            with pytest.raises(openai.AuthenticationError):
                await wrong.models.list()
        async with openai.AsyncOpenAI(
            base_url=guarded.url, api_key="sk-right", max_retries=0
        ) as right:
            assert [model.id async for model in right.models.list()]


# --- faults ----------------------------------------------------------------------------------


async def test_inband_429_is_a_rate_limit_error(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model=MODEL, messages=user("go [[fault:429]]"))

    assert caught.value.response.headers["Retry-After"] == "1"
    assert caught.value.code == "rate_limit_exceeded"


async def test_inband_500_and_503_are_server_errors(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model=MODEL, messages=user("[[fault:500]]"))
    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model=MODEL, messages=user("[[fault:503]]"))
    assert caught.value.status_code == 503


async def test_queued_faults_hit_the_next_requests_then_stop(
    client: openai.AsyncOpenAI, control: aiohttp.ClientSession
) -> None:
    async with control.post("/_fake/faults", json={"fault": "500", "count": 2}) as response:
        assert response.status == 200
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            await client.models.list()

    assert [model async for model in client.models.list()]


async def test_queued_faults_can_be_cleared(
    client: openai.AsyncOpenAI, control: aiohttp.ClientSession
) -> None:
    async with control.post("/_fake/faults", json={"fault": "429"}):
        pass
    async with control.delete("/_fake/faults") as response:
        assert response.status == 200

    reply = await client.chat.completions.create(model=MODEL, messages=user("fine"))
    assert reply.choices[0].message.content == "Echo: fine"


async def test_unknown_fault_is_rejected(control: aiohttp.ClientSession) -> None:
    async with control.post("/_fake/faults", json={"fault": "nope"}) as response:
        assert response.status == 400
        assert (await response.json())["error"]["param"] == "fault"


async def test_cut_stream_errors_mid_stream(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=MODEL, messages=user("a b c d e f g h [[fault:cut]]"), stream=True
    )
    received: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)

    assert received[0].choices[0].delta.role == "assistant"
    assert streamed_text(received) == "Echo: a "


async def test_cut_without_streaming_drops_the_connection(
    client: openai.AsyncOpenAI, fake: FakeUpstream
) -> None:
    fake.fail_next("cut")
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model=MODEL, messages=user("hello"))


async def test_timeout_never_answers(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(
            model=MODEL, messages=user("[[fault:timeout]]"), timeout=0.3
        )


async def test_no_usage_omits_usage_everywhere(client: openai.AsyncOpenAI) -> None:
    plain = await client.chat.completions.create(
        model=MODEL, messages=user("quiet [[fault:no_usage]]")
    )
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=user("quiet [[fault:no_usage]]"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = await collect(stream)

    assert "usage" not in plain.model_fields_set
    assert all("usage" not in chunk.model_fields_set for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


# --- control endpoints and pacing ------------------------------------------------------------


async def test_received_endpoint_lists_request_bodies(
    client: openai.AsyncOpenAI, control: aiohttp.ClientSession
) -> None:
    await client.chat.completions.create(model=MODEL, messages=user("remember RECEIVED-7"))
    async with control.get("/_fake/received") as response:
        bodies = await response.json()

    assert bodies[-1]["messages"][-1]["content"] == "remember RECEIVED-7"


async def test_config_updates_live_and_paces_streams(
    fake: FakeUpstream, client: openai.AsyncOpenAI, control: aiohttp.ClientSession
) -> None:
    original_models = list(fake.config.models)
    update = {"ttft_s": 0.2, "tokens_per_second": 50, "models": ["only-model"]}
    async with control.post("/_fake/config", json=update) as response:
        assert response.status == 200
    try:
        started = time.monotonic()
        stream = await client.chat.completions.create(
            model=MODEL, messages=user("one two three four five"), stream=True
        )
        chunks = await collect(stream)
        elapsed = time.monotonic() - started
        models = [model.id async for model in client.models.list()]
    finally:
        async with control.post(
            "/_fake/config", json={"ttft_s": 0, "tokens_per_second": 0, "models": original_models}
        ):
            pass

    assert streamed_text(chunks) == "Echo: one two three four five"
    assert elapsed >= 0.2 + 5 / 50
    assert models == ["only-model"]
    assert fake.config.models == tuple(original_models)


async def test_config_rejects_unknown_fields(control: aiohttp.ClientSession) -> None:
    async with control.post("/_fake/config", json={"bogus": 1}) as response:
        assert response.status == 400


async def test_latency_delays_non_streaming_replies() -> None:
    async with (
        FakeUpstream(FakeUpstreamConfig(latency_s=0.2)) as slow,
        openai.AsyncOpenAI(base_url=slow.url, api_key="x", max_retries=0) as sdk,
    ):
        started = time.monotonic()
        await sdk.chat.completions.create(model=MODEL, messages=user("slow"))
        assert time.monotonic() - started >= 0.2
