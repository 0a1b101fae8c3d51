"""The fake upstream speaks Anthropic's Messages API well enough for the official SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import httpx2
import orjson
import pytest
from anthropic.types import RawMessageStreamEvent, TextBlock, ThinkingBlock

from aisonar.testing.fake_upstream import FakeUpstream, FakeUpstreamConfig
from aisonar.usage.tokens import count_text_tokens
from tests.testing.forecast import FORECAST, FORECAST_SCHEMA

MODEL = "claude-haiku-4-5"
VERSION_HEADERS = {"anthropic-version": "2023-06-01"}
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TIME_TOOL: Any = {"name": "get_time", "input_schema": {"type": "object"}}
THINKING: Any = {"type": "enabled", "budget_tokens": 1024}
QUEUED_USAGE = {
    "input_tokens": 11,
    "cache_creation_input_tokens": 22,
    "cache_read_input_tokens": 33,
    "output_tokens": 44,
}


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def tokens(text: str) -> int:
    return count_text_tokens(text, MODEL)


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(port=0) as upstream:
        yield upstream


@pytest.fixture
async def client(fake: FakeUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    fake.clear_faults()
    async with anthropic.AsyncAnthropic(base_url=fake.root_url, api_key="x", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def raw(fake: FakeUpstream) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(fake.root_url) as session:
        yield session


async def create(client: anthropic.AsyncAnthropic, text: str, **options: Any) -> Any:
    options.setdefault("max_tokens", 256)
    return await client.messages.create(model=MODEL, messages=user(text), **options)


async def stream_events(
    client: anthropic.AsyncAnthropic, text: str, **options: Any
) -> list[RawMessageStreamEvent]:
    stream = await create(client, text, stream=True, **options)
    return [event async for event in stream]


async def post_raw(
    raw: aiohttp.ClientSession, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with raw.post("/v1/messages", json=body, headers=headers) as response:
        return response.status, await response.json()


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """(event name, data) of each event of a raw stream."""
    events = []
    for block in text.strip().split("\n\n"):
        name_line, data_line = block.split("\n")
        events.append((name_line.removeprefix("event: "), orjson.loads(data_line[6:])))
    return events


# --- messages --------------------------------------------------------------------------------


async def test_plain_message_echoes_the_prompt_with_usage(
    fake: FakeUpstream, client: anthropic.AsyncAnthropic
) -> None:
    message = await create(client, "hello MARKER-5 world", system="Be brief.")

    assert message.id.startswith("msg_")
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == MODEL
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Echo: hello MARKER-5 world"
    assert message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    counted = await client.messages.count_tokens(
        model=MODEL, messages=user("hello MARKER-5 world"), system="Be brief."
    )
    assert message.usage.input_tokens == counted.input_tokens > 0
    assert message.usage.output_tokens == tokens("Echo: hello MARKER-5 world")
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.service_tier == "standard"
    assert fake.received[-1]["system"] == "Be brief."


async def test_content_blocks_and_system_blocks_are_read(client: anthropic.AsyncAnthropic) -> None:
    message = await client.messages.create(
        model=MODEL,
        max_tokens=64,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
            {"role": "user", "content": [{"type": "text", "text": "second question"}]},
        ],
    )

    assert message.content[0].type == "text"
    assert message.content[0].text == "Echo: second question"


async def test_raw_stream_is_the_real_event_sequence(raw: aiohttp.ClientSession) -> None:
    body = {"model": MODEL, "max_tokens": 64, "messages": user("one two three"), "stream": True}
    async with raw.post("/v1/messages", json=body, headers=VERSION_HEADERS) as response:
        assert response.content_type == "text/event-stream"
        events = parse_sse(await response.text())

    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["usage"]["output_tokens"] == 1
    assert start["usage"]["input_tokens"] > 0
    assert events[1][1]["content_block"] == {"type": "text", "text": ""}
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert text == "Echo: one two three"
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {
        "input_tokens": start["usage"]["input_tokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": tokens("Echo: one two three"),
    }


async def test_stream_helper_builds_the_final_message(client: anthropic.AsyncAnthropic) -> None:
    async with client.messages.stream(
        model=MODEL, max_tokens=64, messages=user("stream me please")
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        message = await stream.get_final_message()

    assert len(pieces) > 1
    assert "".join(pieces) == "Echo: stream me please"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Echo: stream me please"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == tokens("Echo: stream me please")
    assert message.usage.input_tokens > 0


async def test_max_tokens_truncates_with_stop_reason_max_tokens(
    client: anthropic.AsyncAnthropic,
) -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    message = await create(client, text, max_tokens=4)

    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text"
    kept = message.content[0].text
    assert kept
    assert ("Echo: " + text).startswith(kept)
    assert message.usage.output_tokens == tokens(kept) <= 4


async def test_stop_sequence_cuts_the_answer(client: anthropic.AsyncAnthropic) -> None:
    plain = await create(client, "red green STOP blue", stop_sequences=["NEVER", "STOP"])
    async with client.messages.stream(
        model=MODEL, max_tokens=64, messages=user("red green STOP blue"), stop_sequences=["STOP"]
    ) as stream:
        streamed = await stream.get_final_message()

    for message in (plain, streamed):
        assert message.stop_reason == "stop_sequence"
        assert message.stop_sequence == "STOP"
        assert isinstance(message.content[0], TextBlock)
        assert message.content[0].text == "Echo: red green "
        assert message.usage.output_tokens == tokens("Echo: red green ")


# --- tools and thinking ----------------------------------------------------------------------


async def test_tool_use(client: anthropic.AsyncAnthropic) -> None:
    message = await create(client, "weather in Paris", tools=[WEATHER_TOOL, TIME_TOOL])

    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["tool_use"]
    call = message.content[0]
    assert call.id.startswith("toolu_")
    assert call.name == "get_weather"
    assert call.input == {"city": "weather in Paris"}


async def test_output_format_answers_json_valid_against_the_schema(
    client: anthropic.AsyncAnthropic,
) -> None:
    output_config: Any = {"format": {"type": "json_schema", "schema": FORECAST_SCHEMA}}
    message = await create(client, "in Oslo", output_config=output_config)

    assert message.stop_reason == "end_turn"
    assert orjson.loads(message.content[0].text) == FORECAST


async def test_thinking_is_refused_when_the_tool_choice_forces_a_tool(
    client: anthropic.AsyncAnthropic,
) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        await create(
            client,
            "x",
            max_tokens=2048,
            thinking=THINKING,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "any"},
        )
    assert "Thinking may not be enabled" in refused.value.message


async def test_tool_choice_names_the_tool_or_turns_tools_off(
    client: anthropic.AsyncAnthropic,
) -> None:
    tools = [WEATHER_TOOL, TIME_TOOL]
    named = await create(
        client, "what time", tools=tools, tool_choice={"type": "tool", "name": "get_time"}
    )
    off = await create(client, "no tools", tools=tools, tool_choice={"type": "none"})

    assert named.content[0].type == "tool_use"
    assert named.content[0].name == "get_time"
    assert off.content[0].type == "text"
    assert off.content[0].text == "Echo: no tools"


async def test_tool_result_is_echoed_as_text(client: anthropic.AsyncAnthropic) -> None:
    messages: list[Any] = [
        *user("weather in Paris"),
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}],
        },
    ]
    message = await client.messages.create(
        model=MODEL, max_tokens=64, messages=messages, tools=[WEATHER_TOOL]
    )

    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Echo: sunny"


async def test_streamed_tool_input_accumulates(client: anthropic.AsyncAnthropic) -> None:
    events = await stream_events(client, "weather in New York City", tools=[WEATHER_TOOL])
    async with client.messages.stream(
        model=MODEL, max_tokens=64, messages=user("weather in New York City"), tools=[WEATHER_TOOL]
    ) as stream:
        message = await stream.get_final_message()

    fragments = [
        event.delta.partial_json
        for event in events
        if event.type == "content_block_delta" and event.delta.type == "input_json_delta"
    ]
    assert len(fragments) > 1
    assert orjson.loads("".join(fragments)) == {"city": "weather in New York City"}
    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "tool_use"
    assert message.content[0].input == {"city": "weather in New York City"}


async def test_thinking_block_comes_first_and_counts_as_output(
    client: anthropic.AsyncAnthropic,
) -> None:
    plain = await create(client, "think hard", max_tokens=2048, thinking=THINKING)
    async with client.messages.stream(
        model=MODEL, max_tokens=2048, messages=user("think hard"), thinking=THINKING
    ) as stream:
        streamed = await stream.get_final_message()

    for message in (plain, streamed):
        thinking, text = message.content
        assert isinstance(thinking, ThinkingBlock)
        assert thinking.thinking == "Thinking about: think hard"
        assert thinking.signature
        assert isinstance(text, TextBlock)
        assert text.text == "Echo: think hard"
        expected = tokens("Thinking about: think hard") + tokens("Echo: think hard")
        assert message.usage.output_tokens == expected


async def test_count_tokens(client: anthropic.AsyncAnthropic) -> None:
    short = await client.messages.count_tokens(model=MODEL, messages=user("hi"))
    longer = await client.messages.count_tokens(
        model=MODEL, messages=user("hi there, a much longer question"), tools=[WEATHER_TOOL]
    )

    assert 0 < short.input_tokens < longer.input_tokens


# --- validation and auth ---------------------------------------------------------------------


async def test_missing_anthropic_version_is_a_400(raw: aiohttp.ClientSession) -> None:
    status, body = await post_raw(raw, {"model": MODEL, "max_tokens": 8, "messages": user("x")})

    assert status == 400
    assert body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "anthropic-version: header is required",
        },
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        ({"max_tokens": 0}, "max_tokens: Input should be greater than or equal to 1"),
        ({"model": None}, "model: Field required"),
        ({"messages": []}, "messages: at least one message is required"),
        (
            {"messages": [{"role": "assistant", "content": "x"}]},
            'messages: first message must use the "user" role',
        ),
        (
            {"messages": [{"role": "tool", "content": "x"}]},
            "messages.0.role: Input should be 'user', 'assistant' or 'system'",
        ),
        (
            {"messages": [{"role": "system", "content": "x"}]},
            'messages: first message must use the "user" role',
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "x"}]}]},
            "messages.0.content.0.type: Input tag 'x'",
        ),
        ({"tools": [{"name": "t"}]}, "tools.0.custom.input_schema: Field required"),
        ({"thinking": THINKING}, "`max_tokens` must be greater than `thinking.budget_tokens`"),
    ],
)
async def test_invalid_requests_are_400_in_anthropic_format(
    raw: aiohttp.ClientSession, changes: dict[str, Any], message: str
) -> None:
    """`changes` are applied to a valid request; a None value removes the field."""
    valid = {"model": MODEL, "max_tokens": 8, "messages": user("x")}
    body = {name: value for name, value in {**valid, **changes}.items() if value is not None}
    status, answer = await post_raw(raw, body, VERSION_HEADERS)

    assert status == 400
    assert answer["type"] == "error"
    assert answer["error"]["type"] == "invalid_request_error"
    assert answer["error"]["message"].startswith(message)


async def test_sdk_sees_validation_errors_as_bad_requests(
    client: anthropic.AsyncAnthropic,
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        await create(client, "x", extra_body={"temperature": 1.5})

    assert caught.value.status_code == 400
    assert caught.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "temperature: Input should be less than or equal to 1",
        },
    }


async def test_api_key_is_checked_in_either_header() -> None:
    async with FakeUpstream(FakeUpstreamConfig(api_key="sk-right")) as guarded:
        async with anthropic.AsyncAnthropic(
            base_url=guarded.root_url, api_key="sk-wrong", max_retries=0
        ) as wrong:
            with pytest.raises(anthropic.AuthenticationError) as caught:
                await create(wrong, "x")
        async with aiohttp.ClientSession(guarded.root_url) as session:
            headers = {**VERSION_HEADERS, "x-api-key": "sk-right"}
            status, _ = await post_raw(
                session, {"model": MODEL, "max_tokens": 8, "messages": user("x")}, headers
            )
        async with anthropic.AsyncAnthropic(
            base_url=guarded.root_url, auth_token="sk-right", max_retries=0
        ) as bearer:
            message = await create(bearer, "let me in")

    assert caught.value.status_code == 401
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "authentication_error"
    assert status == 200
    assert message.content[0].text == "Echo: let me in"


# --- faults and usage ------------------------------------------------------------------------


async def test_429_is_a_rate_limit_error_with_retry_after(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        await create(client, "go [[fault:429]]")

    assert caught.value.response.headers["retry-after"] == "1"
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "rate_limit_error"


async def test_500_is_an_internal_server_error(
    fake: FakeUpstream, client: anthropic.AsyncAnthropic
) -> None:
    fake.fail_next("500")
    with pytest.raises(anthropic.InternalServerError) as caught:
        await create(client, "fine")

    assert caught.value.status_code == 500
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "api_error"


async def test_cut_stream_drops_the_connection_mid_answer(
    client: anthropic.AsyncAnthropic,
) -> None:
    stream = await create(client, "a b c d e f g h [[fault:cut]]", stream=True)
    events = aiter(stream)
    received = [await anext(events) for _ in range(4)]
    with pytest.raises(httpx2.RemoteProtocolError):
        await anext(events)

    assert [event.type for event in received] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
    ]
    assert [event.delta.text for event in received[2:]] == ["Echo: ", "a "]


async def test_cut_without_streaming_drops_the_connection(
    fake: FakeUpstream, client: anthropic.AsyncAnthropic
) -> None:
    fake.fail_next("cut")
    with pytest.raises(anthropic.APIConnectionError):
        await create(client, "hello")


async def test_no_usage_omits_every_usage_key(client: anthropic.AsyncAnthropic) -> None:
    plain = await create(client, "quiet [[fault:no_usage]]")
    events = await stream_events(client, "quiet [[fault:no_usage]]")

    assert "usage" not in plain.model_fields_set
    assert events[0].type == "message_start"
    assert "usage" not in events[0].message.model_fields_set
    assert events[-2].type == "message_delta"
    assert "usage" not in events[-2].model_fields_set
    assert events[-2].delta.stop_reason == "end_turn"


async def test_queued_usage_is_reported_verbatim(
    fake: FakeUpstream, client: anthropic.AsyncAnthropic
) -> None:
    fake.report_usage_next(QUEUED_USAGE)
    plain = await create(client, "metered")
    fake.report_usage_next(QUEUED_USAGE)
    events = await stream_events(client, "metered")
    fake.report_usage_next(QUEUED_USAGE)
    async with client.messages.stream(
        model=MODEL, max_tokens=64, messages=user("metered")
    ) as stream:
        accumulated = await stream.get_final_message()

    assert plain.usage.to_dict() == QUEUED_USAGE
    assert events[0].type == "message_start"
    assert events[0].message.usage.to_dict() == {**QUEUED_USAGE, "output_tokens": 1}
    assert events[-2].type == "message_delta"
    assert events[-2].usage.to_dict() == QUEUED_USAGE
    assert accumulated.usage.to_dict() == QUEUED_USAGE
