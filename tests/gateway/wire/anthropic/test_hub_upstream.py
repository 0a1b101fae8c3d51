"""Anthropic translation: out of the hub to the provider and back."""

from __future__ import annotations

import orjson
import pytest
from anthropic.types import Message
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageFunctionToolCall,
)

from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.anthropic.hub_upstream import (
    AnthropicStreamToHub,
    UpstreamStreamError,
    anthropic_response_to_hub,
)
from aisonar.gateway.wire.hub import JsonObject, UnsupportedFeature, hub_usage
from tests.gateway.wire.anthropic.cases import (
    ANTHROPIC_USAGE,
    HUB_WEATHER_TOOL,
    MODEL,
    PNG,
    USAGE,
    WEATHER_SCHEMA,
    hub_request,
    to_anthropic,
    tool_call,
)

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
