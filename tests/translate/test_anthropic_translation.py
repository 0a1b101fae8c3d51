"""Anthropic Messages <-> hub: requests, answers and streams, both ways. Outputs are checked
against the official SDKs' own types and stream accumulation, not only against literals."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import orjson
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageFunctionToolCall,
)
from pydantic import TypeAdapter

from aisonar.gateway.errors import InvalidRequest, UnreadableUpstream
from aisonar.gateway.formats.usage import TokenUsage
from aisonar.gateway.sse import SseSplitter, event_data
from aisonar.gateway.translate.anthropic_inbound import (
    RAW_ARGUMENTS_KEY,
    TOOL_ERROR_PREFIX,
    HubToAnthropicStream,
    anthropic_request_to_hub,
    hub_response_to_anthropic,
)
from aisonar.gateway.translate.anthropic_outbound import (
    AnthropicStreamToHub,
    UpstreamStreamError,
    anthropic_response_to_hub,
    hub_request_to_anthropic,
)
from aisonar.gateway.translate.hub import JsonObject, UnsupportedFeature, hub_chunk, hub_usage

MODEL = "claude-test"
PNG = "iVBORw0KGgoAAAANSUhEUg=="
WEATHER_SCHEMA: JsonObject = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
# Normalized: all input (cached reads and writes included), all output.
USAGE = TokenUsage(
    input_tokens=135, cached_input_tokens=100, cache_write_tokens=10, output_tokens=42
)
ANTHROPIC_USAGE = {
    "input_tokens": 25,
    "cache_creation_input_tokens": 10,
    "cache_read_input_tokens": 100,
    "output_tokens": 42,
}
STREAM_EVENTS = TypeAdapter[Any](RawMessageStreamEvent)

# An Anthropic conversation using everything the hub can carry.
CONVERSATION: list[JsonObject] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is on these?", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Two cities.", "signature": "c2ln"},
            {"type": "redacted_thinking", "data": "b3BhcXVl"},
            {"type": "text", "text": "Let me check the weather."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Oslo"}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_2",
                "content": [{"type": "text", "text": "Station"}, {"type": "text", "text": "down"}],
                "is_error": True,
            },
            {"type": "text", "text": "And tomorrow?"},
        ],
    },
]
HUB_CONVERSATION: list[JsonObject] = [
    {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is on these?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        ],
    },
    {
        "role": "assistant",
        "content": [{"type": "text", "text": "Let me check the weather."}],
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "toolu_2",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "toolu_1", "content": "Sunny"},
    {"role": "tool", "tool_call_id": "toolu_2", "content": TOOL_ERROR_PREFIX + "Station\ndown"},
    {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
]
WEATHER_TOOL: JsonObject = {
    "name": "weather",
    "description": "Weather of a city",
    "input_schema": WEATHER_SCHEMA,
    "cache_control": {"type": "ephemeral"},
}
HUB_WEATHER_TOOL: JsonObject = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": WEATHER_SCHEMA,
        "description": "Weather of a city",
    },
}


def messages_request(**fields: Any) -> JsonObject:
    return {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Hi"}],
        **fields,
    }


def hub_request(**fields: Any) -> JsonObject:
    return {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], **fields}


def to_anthropic(hub: JsonObject) -> JsonObject:
    return hub_request_to_anthropic(hub, default_max_tokens=1000)


def tool_call(call_id: str, name: str, arguments: str) -> JsonObject:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


# Anthropic request -> hub


def test_a_conversation_becomes_hub_messages() -> None:
    request = messages_request(
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=CONVERSATION,
    )

    assert anthropic_request_to_hub(request)["messages"] == HUB_CONVERSATION


def test_string_system_and_contents_stay_strings() -> None:
    request = messages_request(
        system="Be brief.",
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "system", "content": "Now in French."},
        ],
    )

    assert anthropic_request_to_hub(request)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "system", "content": "Now in French."},
    ]


def test_an_assistant_turn_of_tool_calls_only_has_no_content() -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}
    request = messages_request(messages=[{"role": "assistant", "content": [call]}])

    message = anthropic_request_to_hub(request)["messages"][0]

    assert message["content"] is None
    assert message["tool_calls"] == [tool_call("toolu_1", "weather", "{}")]


def test_parameters_become_hub_parameters() -> None:
    request = messages_request(
        max_tokens=2048,
        stop_sequences=["END"],
        temperature=0.3,
        top_p=0.9,
        stream=True,
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "user-7"},
        service_tier="auto",
        tools=[WEATHER_TOOL, {**WEATHER_TOOL, "name": "strict_weather", "strict": True}],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        top_k=None,
    )

    hub = anthropic_request_to_hub(request)

    assert hub == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 2048,
        "stop": ["END"],
        "temperature": 0.3,
        "top_p": 0.9,
        "stream": True,
        "stream_options": {"include_usage": True},
        "thinking_budget": 1024,
        "user": "user-7",
        "tools": [
            HUB_WEATHER_TOOL,
            {
                "type": "function",
                "function": {
                    **HUB_WEATHER_TOOL["function"],
                    "name": "strict_weather",
                    "strict": True,
                },
            },
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "weather"},
            {"type": "function", "function": {"name": "weather"}},
        ),
    ],
)
def test_tool_choices(choice: JsonObject, expected: object) -> None:
    hub = anthropic_request_to_hub(messages_request(tools=[WEATHER_TOOL], tool_choice=choice))

    assert hub["tool_choice"] == expected
    assert "parallel_tool_calls" not in hub


def test_disabled_thinking_sets_no_budget() -> None:
    hub = anthropic_request_to_hub(messages_request(thinking={"type": "disabled"}))

    assert "thinking_budget" not in hub


def user_blocks(*blocks: JsonObject) -> list[JsonObject]:
    return [{"role": "user", "content": list(blocks)}]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"top_k": 5}, "top_k"),
        ({"container": "container_1"}, "container"),
        ({"mcp_servers": [{"type": "url", "url": "https://mcp.test", "name": "m"}]}, "mcp_servers"),
        ({"output_config": {"effort": "low"}}, "output_config"),
        ({"something_new": True}, "something_new"),
        ({"metadata": {"user_id": "u", "tenant": "t"}}, "metadata.tenant"),
        ({"thinking": {"type": "adaptive"}}, "thinking.type"),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}},
            "thinking.display",
        ),
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
            "tools[0].type",
        ),
        ({"tools": [{**WEATHER_TOOL, "defer_loading": True}]}, "tools[0].defer_loading"),
        (
            {
                "messages": user_blocks(
                    {
                        "type": "document",
                        "source": {"type": "text", "data": "x", "media_type": "text/plain"},
                    }
                )
            },
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": user_blocks(
                    {"type": "text", "text": "x", "citations": [{"type": "char_location"}]}
                )
            },
            "messages[0].content[0].citations",
        ),
        (
            {
                "messages": user_blocks(
                    {"type": "image", "source": {"type": "file", "file_id": "f1"}}
                )
            },
            "messages[0].content[0].source.type",
        ),
        (
            {
                "messages": user_blocks(
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "image", "source": {"type": "url", "url": "https://x"}}
                        ],
                    }
                )
            },
            "messages[0].content[0].content[0].type",
        ),
        ({"system": [{"type": "image", "source": {}}]}, "system[0].type"),
        ({"tool_choice": {"type": "auto", "urgency": "high"}}, "tool_choice.urgency"),
    ],
)
def test_what_the_hub_cannot_carry_is_refused_by_name(fields: JsonObject, param: str) -> None:
    with pytest.raises(UnsupportedFeature) as refused:
        anthropic_request_to_hub(messages_request(**fields))

    assert refused.value.param == param
    assert f"`{param}`" in refused.value.message
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("messages", "fragment"),
    [
        ([{"role": "user"}], "missing field `content`"),
        ([{"role": "robot", "content": "Hi"}], "unknown role `robot`"),
        ("Hi", "Invalid request body"),
        (user_blocks({"type": "tool_use", "id": "t", "name": "n", "input": {}}), "assistant turns"),
    ],
)
def test_malformed_requests_are_invalid(messages: object, fragment: str) -> None:
    with pytest.raises(InvalidRequest, match=fragment) as refused:
        anthropic_request_to_hub(messages_request(messages=messages))

    assert not isinstance(refused.value, UnsupportedFeature)


# Hub answer -> Anthropic Message


def hub_answer(message: JsonObject, finish_reason: str = "stop") -> JsonObject:
    return {
        "id": "chatcmpl-42",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "upstream-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": hub_usage(USAGE),
    }


def test_a_hub_answer_becomes_a_message() -> None:
    hub = hub_answer(
        {
            "role": "assistant",
            "content": "Checking.",
            "reasoning_content": "Two lookups.",
            "tool_calls": [
                tool_call("call_1", "weather", '{"city": "Paris"}'),
                tool_call("call_2", "weather", ""),
            ],
        },
        finish_reason="tool_calls",
    )
    ChatCompletion.model_validate(hub)

    answer = hub_response_to_anthropic(hub, MODEL)

    message = Message.model_validate(answer)
    assert message.id == "msg_chatcmpl-42"
    assert message.model == MODEL
    assert message.stop_reason == "tool_use"
    assert message.stop_sequence is None
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "thinking", "thinking": "Two lookups.", "signature": ""},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "weather", "input": {}},
    ]
    assert answer["usage"] == ANTHROPIC_USAGE


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("something_else", "end_turn"),
    ],
)
def test_finish_reasons_become_stop_reasons(finish_reason: str, stop_reason: str) -> None:
    hub = hub_answer({"role": "assistant", "content": "Hi"}, finish_reason)

    assert hub_response_to_anthropic(hub, MODEL)["stop_reason"] == stop_reason


@pytest.mark.parametrize("arguments", ['{"city": "Par', '["Paris"]'])
def test_arguments_that_are_not_an_object_are_kept_whole(arguments: str) -> None:
    hub = hub_answer(
        {"role": "assistant", "content": None, "tool_calls": [tool_call("c", "weather", arguments)]}
    )

    answer = hub_response_to_anthropic(hub, MODEL)

    assert answer["content"][0]["input"] == {RAW_ARGUMENTS_KEY: arguments}
    Message.model_validate(answer)


# Hub stream -> Anthropic stream


def hub_stream(*deltas: JsonObject, finish_reason: str = "stop") -> list[JsonObject]:
    """A hub stream as an OpenAI upstream sends it: role, deltas, finish, then usage."""
    return [
        hub_chunk("chatcmpl-7", "upstream", 1, delta={"role": "assistant", "content": ""}),
        *(hub_chunk("chatcmpl-7", "upstream", 1, delta=delta) for delta in deltas),
        hub_chunk("chatcmpl-7", "upstream", 1, delta={}, finish_reason=finish_reason),
        hub_chunk("chatcmpl-7", "upstream", 1, usage=hub_usage(USAGE)),
    ]


def write_stream(chunks: list[JsonObject]) -> bytes:
    writer = HubToAnthropicStream(MODEL)
    return b"".join(writer.feed(chunk) for chunk in chunks) + writer.finish()


def stream_events(stream: bytes) -> list[JsonObject]:
    """The events of a Messages stream, each checked against the SDK's event types."""
    splitter = SseSplitter()
    events = splitter.feed(stream)
    assert splitter.remainder() == b""
    parsed = []
    for event in events:
        name = event.split(b"\n", 1)[0].removeprefix(b"event: ").decode()
        data = orjson.loads(event_data(event))
        assert data["type"] == name
        STREAM_EVENTS.validate_python(data)
        parsed.append(data)
    return parsed


def sdk_final_message(stream: bytes) -> Message:
    """What the official SDK makes of a Messages stream, through its own accumulation."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=stream, headers={"content-type": "text/event-stream"})

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    with (
        anthropic.Anthropic(
            api_key="test", base_url="http://sdk.test", http_client=http, max_retries=0
        ) as client,
        client.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
        ) as events,
    ):
        return events.get_final_message()


def test_a_text_stream_becomes_a_messages_stream() -> None:
    stream = write_stream(hub_stream({"content": "Hel"}, {"content": "lo"}))

    events = stream_events(stream)
    message = sdk_final_message(stream)

    assert [event["type"] for event in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0]["message"]["id"] == "msg_chatcmpl-7"
    assert events[-2]["usage"] == ANTHROPIC_USAGE
    assert message.model == MODEL
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "text", "text": "Hello"}
    ]
    assert message.stop_reason == "end_turn"
    assert message.usage.model_dump(exclude_none=True) == ANTHROPIC_USAGE


def test_a_thinking_stream_has_a_thinking_block_then_a_text_block() -> None:
    stream = write_stream(
        hub_stream(
            {"reasoning_content": "Let me "},
            {"reasoning_content": "think."},
            {"content": "Done."},
            finish_reason="length",
        )
    )

    message = sdk_final_message(stream)

    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": ""},
        {"type": "text", "text": "Done."},
    ]
    assert message.stop_reason == "max_tokens"
    blocks = [event["index"] for event in stream_events(stream) if "index" in event]
    assert blocks == [0, 0, 0, 0, 1, 1, 1]


def test_parallel_tool_calls_become_one_tool_use_block_each() -> None:
    def piece(index: int, arguments: str) -> JsonObject:
        return {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}

    def start(index: int, call_id: str) -> JsonObject:
        function = {"name": "weather", "arguments": ""}
        return {
            "tool_calls": [
                {"index": index, "id": call_id, "type": "function", "function": function}
            ]
        }

    stream = write_stream(
        hub_stream(
            {"content": "Checking both."},
            start(0, "call_a"),
            piece(0, '{"city": '),
            piece(0, '"Paris"}'),
            start(1, "call_b"),
            piece(1, '{"city": "Oslo"}'),
            finish_reason="tool_calls",
        )
    )

    message = sdk_final_message(stream)

    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_b", "name": "weather", "input": {"city": "Oslo"}},
    ]
    assert message.stop_reason == "tool_use"
    starts = [e for e in stream_events(stream) if e["type"] == "content_block_start"]
    assert [e["content_block"]["input"] for e in starts[1:]] == [{}, {}]


def test_message_delta_waits_for_the_usage_chunk() -> None:
    writer = HubToAnthropicStream(MODEL)
    *chunks, usage = hub_stream({"content": "Hi"})

    before = b"".join(writer.feed(chunk) for chunk in chunks)
    after = writer.feed(usage)

    assert b"message_delta" not in before
    assert b"content_block_stop" in before
    assert [event["type"] for event in stream_events(after)] == ["message_delta", "message_stop"]
    assert writer.finish() == b""


def test_usage_in_the_finish_chunk_ends_the_message_at_once() -> None:
    writer = HubToAnthropicStream(MODEL)
    final = hub_chunk(
        "c", "m", 1, delta={"content": "Hi"}, finish_reason="stop", usage=hub_usage(USAGE)
    )

    events = stream_events(writer.feed(final))

    assert [event["type"] for event in events][-2:] == ["message_delta", "message_stop"]
    assert events[-2]["usage"] == ANTHROPIC_USAGE
    assert writer.finish() == b""


def test_usage_before_the_finish_reason_is_not_the_end() -> None:
    early = hub_usage(TokenUsage(input_tokens=135, output_tokens=1))
    chunks = hub_stream({"content": "Hi"})
    chunks[1]["usage"] = early

    events = stream_events(write_stream(chunks))

    deltas = [event for event in events if event["type"] == "message_delta"]
    assert len(deltas) == 1
    assert deltas[0]["delta"]["stop_reason"] == "end_turn"
    assert deltas[0]["usage"] == ANTHROPIC_USAGE


def test_a_tool_call_resumed_after_another_block_is_unreadable() -> None:
    def call(index: int) -> JsonObject:
        function = {"name": "weather", "arguments": "{}"}
        return {"tool_calls": [{"index": index, "id": f"call_{index}", "function": function}]}

    writer = HubToAnthropicStream(MODEL)
    for delta in (call(0), call(1)):
        writer.feed(hub_chunk("c", "m", 1, delta=delta))

    with pytest.raises(UnreadableUpstream):
        writer.feed(hub_chunk("c", "m", 1, delta=call(0)))


def test_finish_without_usage_still_ends_the_message() -> None:
    writer = HubToAnthropicStream(MODEL)
    *chunks, _usage = hub_stream({"content": "Hi"})
    for chunk in chunks:
        writer.feed(chunk)

    events = stream_events(writer.finish())

    assert [event["type"] for event in events] == ["message_delta", "message_stop"]
    assert events[0]["delta"]["stop_reason"] == "end_turn"
    assert events[0]["usage"]["output_tokens"] == 0


def test_a_stream_cut_short_closes_its_block_but_claims_no_end() -> None:
    writer = HubToAnthropicStream(MODEL)
    writer.feed(hub_chunk("c", "m", 1, delta={"content": "Hal"}))

    assert [event["type"] for event in stream_events(writer.finish())] == ["content_block_stop"]
    assert writer.finish() == b""
    assert HubToAnthropicStream(MODEL).finish() == b""


# Hub request -> Anthropic request


def test_a_hub_conversation_becomes_anthropic_turns() -> None:
    hub = hub_request(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is on these?"},
            {
                "role": "user",
                "content": [
                    {
                        "type": "image_url",
                        "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"},
                    },
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            },
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "Two cities.",
                "tool_calls": [
                    tool_call("call_1", "weather", '{"city": "Paris"}'),
                    tool_call("call_2", "weather", ""),
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny", "name": "weather"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "Rain"}],
            },
            {"role": "user", "content": "And tomorrow?"},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "Sunny too."}],
                "refusal": None,
            },
        ]
    )

    request = to_anthropic(hub)

    assert request["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use tools."},
    ]
    assert request["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is on these?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "Sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "Rain"}],
                },
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Sunny too."}]},
    ]


def test_hub_parameters_become_anthropic_parameters() -> None:
    hub = hub_request(
        max_tokens=100,
        max_completion_tokens=300,
        stop="END",
        temperature=0.5,
        top_p=0.8,
        stream=True,
        stream_options={"include_usage": True},
        store=False,
        metadata={"team": "a"},
        user="user-7",
        thinking_budget=2048,
        tools=[HUB_WEATHER_TOOL, {"type": "function", "function": {"name": "now", "strict": True}}],
        parallel_tool_calls=False,
        n=1,
        presence_penalty=0,
        response_format={"type": "text"},
        seed=None,
    )

    assert to_anthropic(hub) == {
        "model": MODEL,
        "max_tokens": 300,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "top_p": 0.8,
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "metadata": {"user_id": "user-7"},
        "tools": [
            {"name": "weather", "input_schema": WEATHER_SCHEMA, "description": "Weather of a city"},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}, "strict": True},
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    }


def test_max_tokens_defaults_and_stop_lists_pass() -> None:
    request = to_anthropic(hub_request(stop=["a", "b"]))

    assert request["max_tokens"] == 1000
    assert request["stop_sequences"] == ["a", "b"]
    assert to_anthropic(hub_request(max_tokens=50))["max_tokens"] == 50


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", True, {"type": "auto"}),
        ("required", True, {"type": "any"}),
        ("none", False, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "weather"}},
            True,
            {"type": "tool", "name": "weather"},
        ),
        (
            {"type": "function", "function": {"name": "weather"}},
            False,
            {"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
        ),
    ],
)
def test_hub_tool_choices(choice: object, parallel: bool, expected: JsonObject) -> None:
    hub = hub_request(tools=[HUB_WEATHER_TOOL], tool_choice=choice, parallel_tool_calls=parallel)

    assert to_anthropic(hub)["tool_choice"] == expected


@pytest.mark.parametrize(
    ("effort", "max_tokens", "thinking"),
    [
        ("low", 8000, {"type": "enabled", "budget_tokens": 1024}),
        ("medium", 8000, {"type": "enabled", "budget_tokens": 4096}),
        ("high", 32000, {"type": "enabled", "budget_tokens": 16384}),
        ("high", 8000, {"type": "enabled", "budget_tokens": 7999}),
        ("minimal", 8000, None),
        ("none", 8000, None),
    ],
)
def test_reasoning_effort_becomes_a_thinking_budget(
    effort: str, max_tokens: int, thinking: JsonObject | None
) -> None:
    request = to_anthropic(hub_request(reasoning_effort=effort, max_tokens=max_tokens))

    assert request.get("thinking") == thinking


def test_a_zero_thinking_budget_means_no_thinking() -> None:
    assert "thinking" not in to_anthropic(hub_request(thinking_budget=0, reasoning_effort="high"))


def test_a_cache_breakpoint_becomes_cache_control() -> None:
    part = {"type": "text", "text": "Long context", "prompt_cache_breakpoint": {"mode": "explicit"}}

    request = to_anthropic(hub_request(messages=[{"role": "user", "content": [part]}]))

    assert request["messages"][0]["content"] == [
        {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}}
    ]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "response_format",
        ),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"frequency_penalty": 0.2}, "frequency_penalty"),
        ({"seed": 7}, "seed"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"temperature": 1.5}, "temperature"),
        ({"reasoning_effort": "high", "max_tokens": 1000}, "reasoning_effort"),
        ({"thinking_budget": -1}, "thinking_budget"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"brand_new_option": 1}, "brand_new_option"),
        ({"tools": [{"type": "custom", "custom": {"name": "grammar"}}]}, "tools[0].type"),
        ({"tool_choice": {"type": "allowed_tools"}, "tools": [HUB_WEATHER_TOOL]}, "tool_choice"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}
                        ],
                    }
                ]
            },
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}
                ]
            },
            "messages[0].content[0].type",
        ),
        ({"messages": [{"role": "user", "content": "Hi", "name": "ann"}]}, "messages[0].name"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
        (
            {
                "messages": [
                    {
                        "role": "system",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x"}}],
                    }
                ]
            },
            "messages[0].content[0].type",
        ),
    ],
)
def test_what_anthropic_cannot_do_is_refused_by_name(fields: JsonObject, param: str) -> None:
    with pytest.raises(UnsupportedFeature) as refused:
        to_anthropic(hub_request(**fields))

    assert refused.value.param == param
    assert "Anthropic" in refused.value.message


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "assistant", "tool_calls": [tool_call("c", "f", "{not json")]}], "messages"),
        ([{"role": "assistant", "tool_calls": [tool_call("c", "f", "[1]")]}], "messages"),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "ftp://x/cat.png"}}],
                }
            ],
            "messages[0].content[0].image_url.url",
        ),
        ([{"content": "Hi"}], None),
    ],
)
def test_malformed_hub_requests_are_invalid(messages: list[JsonObject], param: str | None) -> None:
    with pytest.raises(InvalidRequest) as refused:
        to_anthropic(hub_request(messages=messages))

    assert not isinstance(refused.value, UnsupportedFeature)
    assert refused.value.param == param


# Anthropic Message -> hub answer


def anthropic_message(content: list[JsonObject], stop_reason: str = "end_turn") -> JsonObject:
    message: JsonObject = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-upstream",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": ANTHROPIC_USAGE,
    }
    Message.model_validate(message)
    return message


def test_a_message_becomes_a_hub_answer() -> None:
    doc = anthropic_message(
        [
            {"type": "thinking", "thinking": "Paris, then Oslo.", "signature": "c2ln"},
            {"type": "redacted_thinking", "data": "b3BhcXVl"},
            {"type": "text", "text": "Checking "},
            {"type": "text", "text": "both."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {}},
        ],
        stop_reason="tool_use",
    )

    hub = anthropic_response_to_hub(doc)

    completion = ChatCompletion.model_validate(hub)
    assert completion.id == "msg_01"
    assert completion.model == "claude-upstream"
    assert completion.choices[0].finish_reason == "tool_calls"
    assert hub["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Checking both.",
        "reasoning_content": "Paris, then Oslo.",
        "tool_calls": [
            tool_call("toolu_1", "weather", '{"city":"Paris"}'),
            tool_call("toolu_2", "weather", "{}"),
        ],
    }
    assert hub["usage"] == hub_usage(USAGE)
    assert hub["usage"]["prompt_tokens"] == 135


def test_a_message_of_tool_calls_only_has_null_content() -> None:
    doc = anthropic_message(
        [{"type": "tool_use", "id": "t", "name": "now", "input": {}}], "tool_use"
    )

    assert anthropic_response_to_hub(doc)["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons_become_finish_reasons(stop_reason: str, finish_reason: str) -> None:
    doc = anthropic_message([{"type": "text", "text": "Hi"}], stop_reason)

    assert anthropic_response_to_hub(doc)["choices"][0]["finish_reason"] == finish_reason


# Anthropic stream -> hub stream


def sse(*events: JsonObject) -> list[bytes]:
    return [
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        for event in events
    ]


def block_start(index: int, block: JsonObject) -> JsonObject:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: JsonObject) -> JsonObject:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def block_stop(index: int) -> JsonObject:
    return {"type": "content_block_stop", "index": index}


MESSAGE_START: JsonObject = {
    "type": "message_start",
    "message": {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-upstream",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**ANTHROPIC_USAGE, "output_tokens": 1},
    },
}
# As Anthropic streams it: thinking, text, then two tool calls, with pings and signatures.
ANTHROPIC_STREAM = sse(
    MESSAGE_START,
    {"type": "ping"},
    block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    block_delta(0, {"type": "thinking_delta", "thinking": "Paris, "}),
    block_delta(0, {"type": "thinking_delta", "thinking": "then Oslo."}),
    block_delta(0, {"type": "signature_delta", "signature": "c2ln"}),
    block_stop(0),
    block_start(1, {"type": "text", "text": ""}),
    block_delta(1, {"type": "text_delta", "text": "Checking "}),
    block_delta(1, {"type": "text_delta", "text": "both."}),
    block_stop(1),
    block_start(2, {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}),
    block_delta(2, {"type": "input_json_delta", "partial_json": ""}),
    block_delta(2, {"type": "input_json_delta", "partial_json": '{"city": "Pa'}),
    block_delta(2, {"type": "input_json_delta", "partial_json": 'ris"}'}),
    block_stop(2),
    {"type": "ping"},
    block_start(3, {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {}}),
    block_delta(3, {"type": "input_json_delta", "partial_json": '{"city": "Oslo"}'}),
    block_stop(3),
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 42},
    },
    {"type": "message_stop"},
)


def read_stream(events: list[bytes]) -> tuple[list[JsonObject], AnthropicStreamToHub]:
    reader = AnthropicStreamToHub()
    chunks = [chunk for event in events for chunk in reader.feed(event)]
    chunks.extend(reader.finish())
    return chunks, reader


def accumulate_hub(chunks: list[JsonObject]) -> ChatCompletion:
    """What the OpenAI SDK makes of a hub stream, through its own accumulation."""
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


def test_an_anthropic_stream_becomes_hub_chunks() -> None:
    chunks, reader = read_stream(ANTHROPIC_STREAM)

    completion = accumulate_hub(chunks)
    message = completion.choices[0].message
    assert message.content == "Checking both."
    calls = [
        call
        for call in message.tool_calls or []
        if isinstance(call, ChatCompletionMessageFunctionToolCall)
    ]
    assert [(call.id, call.function.name, call.function.arguments) for call in calls] == [
        ("toolu_1", "weather", '{"city": "Paris"}'),
        ("toolu_2", "weather", '{"city": "Oslo"}'),
    ]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.id == "msg_01"
    assert completion.model == "claude-upstream"
    reasoning = [
        chunk["choices"][0]["delta"].get("reasoning_content")
        for chunk in chunks
        if chunk["choices"]
    ]
    assert "".join(piece for piece in reasoning if piece) == "Paris, then Oslo."
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == hub_usage(USAGE)
    assert reader.usage == USAGE


def test_tool_call_indexes_count_tool_blocks_only() -> None:
    chunks, _ = read_stream(ANTHROPIC_STREAM)

    starts = [
        call
        for chunk in chunks
        if chunk["choices"]
        for call in chunk["choices"][0]["delta"].get("tool_calls", [])
        if "id" in call
    ]
    assert [(call["index"], call["function"]["arguments"]) for call in starts] == [(0, ""), (1, "")]


def test_usage_is_unknown_until_message_delta() -> None:
    reader = AnthropicStreamToHub()
    for event in ANTHROPIC_STREAM[:-2]:
        reader.feed(event)

    assert reader.usage is None
    assert reader.finish() == []


def test_a_stream_that_lost_its_message_stop_still_finishes() -> None:
    reader = AnthropicStreamToHub()
    for event in ANTHROPIC_STREAM[:-1]:
        reader.feed(event)

    finish, usage = reader.finish()

    assert finish["choices"][0]["finish_reason"] == "tool_calls"
    assert usage["usage"] == hub_usage(USAGE)
    assert reader.finish() == []


def test_an_error_event_raises_with_the_upstream_message() -> None:
    reader = AnthropicStreamToHub()
    reader.feed(sse(MESSAGE_START)[0])
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

    with pytest.raises(UpstreamStreamError, match="Overloaded") as failed:
        reader.feed(sse(error)[0])

    assert failed.value.status == 502
    assert failed.value.recorded_message == "upstream stream error (overloaded_error)"


def test_events_without_data_give_nothing() -> None:
    assert AnthropicStreamToHub().feed(b": keep-alive\n\n") == []


# Round trips


def test_an_anthropic_request_survives_the_hub_round_trip() -> None:
    request = messages_request(
        system=[{"type": "text", "text": "Be brief."}],
        messages=CONVERSATION,
        tools=[WEATHER_TOOL],
        tool_choice={"type": "tool", "name": "weather"},
        stop_sequences=["END"],
        temperature=0.2,
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "user-7"},
        stream=True,
    )

    again = to_anthropic(anthropic_request_to_hub(request))

    assert again["system"] == request["system"]
    assert again["tools"] == [
        {key: value for key, value in WEATHER_TOOL.items() if key != "cache_control"}
    ]
    assert again["messages"][0] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is on these?"},
            *CONVERSATION[0]["content"][1:],
        ],
    }
    assert again["messages"][1] == {"role": "assistant", "content": CONVERSATION[1]["content"][2:]}
    assert again["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": TOOL_ERROR_PREFIX + "Station\ndown",
        },
        {"type": "text", "text": "And tomorrow?"},
    ]
    for name in (
        "model",
        "max_tokens",
        "tool_choice",
        "stop_sequences",
        "temperature",
        "thinking",
        "metadata",
        "stream",
    ):
        assert again[name] == request[name], name


def test_a_message_survives_the_hub_round_trip() -> None:
    doc = anthropic_message(
        [
            {"type": "thinking", "thinking": "Paris.", "signature": "c2ln"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
        ],
        stop_reason="tool_use",
    )

    again = hub_response_to_anthropic(anthropic_response_to_hub(doc), MODEL)

    assert again == {
        **doc,
        "model": MODEL,
        "content": [{**doc["content"][0], "signature": ""}, *doc["content"][1:]],
    }


def test_an_anthropic_stream_survives_the_hub_round_trip() -> None:
    chunks, _ = read_stream(ANTHROPIC_STREAM)

    message = sdk_final_message(write_stream(chunks))

    assert message.id == "msg_01"
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "thinking", "thinking": "Paris, then Oslo.", "signature": ""},
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Oslo"}},
    ]
    assert message.stop_reason == "tool_use"
    assert message.usage.model_dump(exclude_none=True) == ANTHROPIC_USAGE
