"""Shared cases and helpers of the anthropic translation tests."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from aisonar.gateway.wire.anthropic.hub_client import (
    TOOL_ERROR_PREFIX,
    HubToAnthropicStream,
)
from aisonar.gateway.wire.anthropic.hub_upstream import (
    hub_request_to_anthropic,
)
from aisonar.gateway.wire.hub import JsonObject
from aisonar.token_usage import TokenUsage

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
# Cache hints ride along as breakpoints, for the providers that take them (`delivery`).
HUB_CONVERSATION: list[JsonObject] = [
    {
        "role": "system",
        "content": [
            {"type": "text", "text": "Be brief.", "prompt_cache_breakpoint": {"mode": "explicit"}}
        ],
    },
    {
        "role": "user",
        "content": [
            {
                "type": "text",
                "text": "What is on these?",
                "prompt_cache_breakpoint": {"mode": "explicit"},
            },
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
    return hub_request_to_anthropic({"max_tokens": 1000, **hub})


def tool_call(call_id: str, name: str, arguments: str) -> JsonObject:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def write_stream(chunks: list[JsonObject]) -> bytes:
    writer = HubToAnthropicStream(MODEL)
    return b"".join(writer.feed(chunk) for chunk in chunks) + writer.finish()


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
