"""The fake upstream speaks OpenAI's Responses API well enough for the official SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseStreamEvent,
)

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.usage.tokens import count_chat_prompt_tokens, count_text_tokens
from tests.testing.forecast import FORECAST, FORECAST_SCHEMA

MODEL = "gpt-4o-mini"
WEATHER_TOOL: Any = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TIME_TOOL: Any = {"type": "function", "name": "get_time", "parameters": {}}
LONG_TEXT = " ".join(f"word{number}" for number in range(40))
QUEUED_USAGE = {
    "input_tokens": 11,
    "input_tokens_details": {"cached_tokens": 5},
    "output_tokens": 22,
    "output_tokens_details": {"reasoning_tokens": 7},
    "total_tokens": 33,
}
TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(port=0) as upstream:
        yield upstream


@pytest.fixture
async def client(fake: FakeUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    fake.clear_faults()
    async with openai.AsyncOpenAI(base_url=fake.url, api_key="x", max_retries=0) as sdk:
        yield sdk


async def stream_events(
    client: openai.AsyncOpenAI, text: str, **options: Any
) -> list[ResponseStreamEvent]:
    stream = await client.responses.create(model=MODEL, input=text, stream=True, **options)
    return [event async for event in stream]


def output_message(output: list[Any]) -> ResponseOutputMessage:
    assert len(output) == 1
    assert isinstance(output[0], ResponseOutputMessage)
    return output[0]


def function_call(output: list[Any]) -> ResponseFunctionToolCall:
    assert len(output) == 1
    assert isinstance(output[0], ResponseFunctionToolCall)
    return output[0]


def streamed_text(events: list[ResponseStreamEvent]) -> str:
    return "".join(event.delta for event in events if event.type == "response.output_text.delta")


# --- responses -------------------------------------------------------------------------------


async def test_plain_response_echoes_the_input_with_usage(
    fake: FakeUpstream, client: openai.AsyncOpenAI
) -> None:
    response = await client.responses.create(
        model=MODEL, input="hello MARKER-9 world", instructions="Be brief."
    )

    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == MODEL
    assert response.instructions == "Be brief."
    assert response.incomplete_details is None
    assert response.output_text == "Echo: hello MARKER-9 world"
    message = output_message(response.output)
    assert message.id.startswith("msg_")
    assert message.role == "assistant"
    assert message.status == "completed"
    assert message.content[0].type == "output_text"
    assert message.content[0].annotations == []
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello MARKER-9 world"},
    ]
    assert response.usage is not None
    assert response.usage.input_tokens == count_chat_prompt_tokens(messages, MODEL)
    assert response.usage.output_tokens == count_text_tokens(response.output_text, MODEL)
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert fake.received[-1]["input"] == "hello MARKER-9 world"


async def test_input_items_echo_the_last_user_message(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(
        model=MODEL,
        input=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"type": "message", "role": "assistant", "content": "ok"},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "next"}],
            },
        ],
    )

    assert response.output_text == "Echo: next"


async def test_stream_is_the_real_event_sequence(client: openai.AsyncOpenAI) -> None:
    events = await stream_events(client, "one two")

    assert [event.type for event in events] == TEXT_EVENTS
    assert [event.sequence_number for event in events] == list(range(len(events)))
    created, in_progress, *_, completed = events
    assert created.type == "response.created"
    assert created.response.status == "in_progress"
    assert created.response.output == []
    assert created.response.usage is None
    assert in_progress.type == "response.in_progress"
    assert in_progress.response.id == created.response.id
    assert streamed_text(events) == "Echo: one two"
    assert completed.type == "response.completed"
    assert completed.response.id == created.response.id
    assert completed.response.output_text == "Echo: one two"
    assert completed.response.usage is not None
    assert completed.response.usage.output_tokens == count_text_tokens("Echo: one two", MODEL)


async def test_stream_helper_builds_the_final_response(client: openai.AsyncOpenAI) -> None:
    async with client.responses.stream(model=MODEL, input="stream me please") as stream:
        deltas = [
            event.delta async for event in stream if event.type == "response.output_text.delta"
        ]
        response = await stream.get_final_response()

    assert len(deltas) > 1
    assert "".join(deltas) == "Echo: stream me please"
    assert response.output_text == "Echo: stream me please"
    assert response.status == "completed"


async def test_max_output_tokens_makes_an_incomplete_response(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(model=MODEL, input=LONG_TEXT, max_output_tokens=16)
    events = await stream_events(client, LONG_TEXT, max_output_tokens=16)

    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert output_message(response.output).status == "incomplete"
    assert ("Echo: " + LONG_TEXT).startswith(response.output_text)
    assert response.usage is not None
    assert response.usage.output_tokens == count_text_tokens(response.output_text, MODEL) <= 16
    assert events[-1].type == "response.incomplete"
    assert streamed_text(events) == response.output_text


async def test_json_text_format_replies_with_a_json_object(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(
        model=MODEL, input="as json", text={"format": {"type": "json_object"}}
    )

    assert json.loads(response.output_text) == {"echo": "as json"}


async def test_json_schema_text_format_replies_with_a_valid_value(
    client: openai.AsyncOpenAI,
) -> None:
    text: Any = {"format": {"type": "json_schema", "name": "f", "schema": FORECAST_SCHEMA}}
    response = await client.responses.create(model=MODEL, input="in Oslo", text=text)

    assert json.loads(response.output_text) == FORECAST


# --- function calls --------------------------------------------------------------------------


async def test_function_call(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(
        model=MODEL, input="weather in Paris", tools=[WEATHER_TOOL, TIME_TOOL]
    )

    call = function_call(response.output)
    assert call.id is not None
    assert call.id.startswith("fc_")
    assert call.call_id.startswith("call_")
    assert call.name == "get_weather"
    assert call.status == "completed"
    assert json.loads(call.arguments) == {"city": "weather in Paris"}
    assert [tool.type for tool in response.tools] == ["function", "function"]


async def test_tool_choice_names_the_function_or_turns_tools_off(
    client: openai.AsyncOpenAI,
) -> None:
    tools = [WEATHER_TOOL, TIME_TOOL]
    named = await client.responses.create(
        model=MODEL,
        input="what time",
        tools=tools,
        tool_choice={"type": "function", "name": "get_time"},
    )
    off = await client.responses.create(
        model=MODEL, input="no tools", tools=tools, tool_choice="none"
    )

    assert function_call(named.output).name == "get_time"
    assert off.output_text == "Echo: no tools"


async def test_function_output_is_echoed_as_text(client: openai.AsyncOpenAI) -> None:
    response = await client.responses.create(
        model=MODEL,
        tools=[WEATHER_TOOL],
        input=[
            {"role": "user", "content": "weather in Paris"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny, 21C"},
        ],
    )

    assert response.output_text == "Echo: sunny, 21C"


async def test_streamed_function_call_arguments_accumulate(client: openai.AsyncOpenAI) -> None:
    events = await stream_events(client, "weather in New York City", tools=[WEATHER_TOOL])
    async with client.responses.stream(
        model=MODEL, input="weather in New York City", tools=[WEATHER_TOOL]
    ) as stream:
        response = await stream.get_final_response()

    added = events[2]
    assert added.type == "response.output_item.added"
    assert isinstance(added.item, ResponseFunctionToolCall)
    assert added.item.arguments == ""
    fragments = [
        event.delta for event in events if event.type == "response.function_call_arguments.delta"
    ]
    assert len(fragments) > 1
    done = events[-3]
    assert done.type == "response.function_call_arguments.done"
    assert done.arguments == "".join(fragments)
    assert json.loads(done.arguments) == {"city": "weather in New York City"}
    assert json.loads(function_call(response.output).arguments) == {
        "city": "weather in New York City"
    }


async def test_codex_tools_and_compaction_items_are_accepted(client: openai.AsyncOpenAI) -> None:
    namespace = {"type": "namespace", "name": "crm", "description": "d", "tools": [TIME_TOOL]}
    tools: Any = [{"type": "web_search"}, namespace]
    items: Any = [
        {"role": "user", "content": "what time is it"},
        {"type": "compaction", "encrypted_content": "opaque"},
        {"type": "compaction_trigger"},
    ]
    response = await client.responses.create(model=MODEL, input=items, tools=tools)
    [call] = response.output
    assert isinstance(call, ResponseFunctionToolCall)
    assert (call.namespace, call.name) == ("crm", "get_time")


# --- validation and auth ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"input": "x", "max_output_tokens": 8}, "max_output_tokens"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "mystery"}]}, "input[0].type"),
        ({"input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"input": [{"type": "compaction_trigger"}, {"role": "user", "content": "x"}]}, "input[0]"),
        ({"input": "x", "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice"),
    ],
)
async def test_invalid_requests_are_400_in_openai_format(
    client: openai.AsyncOpenAI, options: Any, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model=MODEL, **options)

    assert caught.value.param == param
    assert caught.value.type == "invalid_request_error"


async def test_missing_input_is_a_400(fake: FakeUpstream) -> None:
    async with (
        aiohttp.ClientSession(fake.root_url) as session,
        session.post("/v1/responses", json={"model": MODEL}) as response,
    ):
        assert response.status == 400
        assert (await response.json())["error"]["param"] == "input"


async def test_api_key_is_checked_when_configured(
    fake: FakeUpstream, client: openai.AsyncOpenAI
) -> None:
    fake.config.api_key = "sk-right"
    try:
        with pytest.raises(openai.AuthenticationError):
            await client.responses.create(model=MODEL, input="x")
        async with openai.AsyncOpenAI(
            base_url=fake.url, api_key="sk-right", max_retries=0
        ) as right:
            response = await right.responses.create(model=MODEL, input="let me in")
    finally:
        fake.config.api_key = None

    assert response.output_text == "Echo: let me in"


# --- faults and usage ------------------------------------------------------------------------


async def test_429_is_a_rate_limit_error(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        await client.responses.create(model=MODEL, input="go [[fault:429]]")

    assert caught.value.response.headers["Retry-After"] == "1"


async def test_500_is_an_internal_server_error(
    fake: FakeUpstream, client: openai.AsyncOpenAI
) -> None:
    fake.fail_next("500")
    with pytest.raises(openai.InternalServerError) as caught:
        await client.responses.create(model=MODEL, input="fine")

    assert caught.value.status_code == 500


async def test_cut_stream_drops_the_connection_mid_answer(client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(
        model=MODEL, input="a b c d e f g h [[fault:cut]]", stream=True
    )
    events = aiter(stream)
    received = [await anext(events) for _ in range(6)]
    with pytest.raises(openai.APIConnectionError):
        await anext(events)

    assert [event.type for event in received] == TEXT_EVENTS[:6]
    assert streamed_text(received) == "Echo: a "


async def test_no_usage_reports_null_usage(client: openai.AsyncOpenAI) -> None:
    plain = await client.responses.create(model=MODEL, input="quiet [[fault:no_usage]]")
    events = await stream_events(client, "quiet [[fault:no_usage]]")

    assert plain.usage is None
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage is None
    assert events[-1].response.output_text == "Echo: quiet [[fault:no_usage]]"


async def test_queued_usage_is_reported_verbatim(
    fake: FakeUpstream, client: openai.AsyncOpenAI
) -> None:
    fake.report_usage_next(QUEUED_USAGE)
    plain = await client.responses.create(model=MODEL, input="metered")
    fake.report_usage_next(QUEUED_USAGE)
    events = await stream_events(client, "metered")

    assert plain.usage is not None
    assert plain.usage.to_dict() == QUEUED_USAGE
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage is not None
    assert events[-1].response.usage.to_dict() == QUEUED_USAGE
