"""Anthropic translation: into the hub and back out to its clients."""

from __future__ import annotations

import orjson
import pytest
from anthropic.types import Message
from openai.types.chat import (
    ChatCompletion,
)

from aisonar.gateway.errors import InvalidRequest, UnreadableUpstream
from aisonar.gateway.sse import SseSplitter, event_data
from aisonar.gateway.wire.anthropic.hub_client import (
    RAW_ARGUMENTS_KEY,
    HubToAnthropicStream,
    anthropic_request_to_hub,
    hub_response_to_anthropic,
)
from aisonar.gateway.wire.hub import (
    CARRIED_CACHE_HINTS,
    DROPPED,
    JsonObject,
    UnsupportedFeature,
    hub_chunk,
    hub_usage,
)
from aisonar.token_usage import TokenUsage
from tests.gateway.wire.anthropic.cases import (
    ANTHROPIC_USAGE,
    CONVERSATION,
    HUB_CONVERSATION,
    HUB_WEATHER_TOOL,
    MODEL,
    STREAM_EVENTS,
    USAGE,
    WEATHER_TOOL,
    messages_request,
    sdk_final_message,
    tool_call,
    write_stream,
)

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
        "thinking_budget": 1024,
        "user": "user-7",
        "tools": [
            {**HUB_WEATHER_TOOL, "prompt_cache_breakpoint": {"mode": "explicit"}},
            {
                "type": "function",
                "function": {
                    **HUB_WEATHER_TOOL["function"],
                    "name": "strict_weather",
                    "strict": True,
                },
                "prompt_cache_breakpoint": {"mode": "explicit"},
            },
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        DROPPED: ["service_tier", "tools[].cache_control"],
        CARRIED_CACHE_HINTS: ["tools[].cache_control"],
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
        ({"output_config": {"effort": "low", "task_budget": 9}}, "output_config.task_budget"),
        ({"something_new": True}, "something_new"),
        ({"metadata": {"user_id": "u", "tenant": "t"}}, "metadata.tenant"),
        ({"thinking": {"type": "sometimes"}}, "thinking.type"),
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
                            {"type": "document", "source": {"type": "url", "url": "https://x"}}
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
