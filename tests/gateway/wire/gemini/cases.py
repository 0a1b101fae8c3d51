"""Shared cases and helpers of the gemini translation tests."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from google.genai import types
from openai.types.chat import ChatCompletionChunk

from aisonar.gateway.wire.gemini.hub_client import (
    gemini_request_to_hub,
)
from aisonar.gateway.wire.gemini.hub_upstream_replies import GeminiStreamToHub
from aisonar.gateway.wire.hub import JsonObject, UnsupportedFeature, hub_usage
from aisonar.token_usage import TokenUsage

MODEL = "gemini-2.5-flash"
PNG = "iVBORw0KGgo="
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def to_hub(doc: JsonObject, *, stream: bool = False) -> JsonObject:
    return gemini_request_to_hub(doc, model=MODEL, stream=stream)


def user(*parts: JsonObject) -> JsonObject:
    return {"role": "user", "parts": list(parts)}


def model_turn(*parts: JsonObject) -> JsonObject:
    return {"role": "model", "parts": list(parts)}


def call(name: str, args: JsonObject, call_id: str | None = None) -> JsonObject:
    function_call: JsonObject = {"name": name, "args": args}
    if call_id is not None:
        function_call["id"] = call_id
    return {"functionCall": function_call}


def result(name: str, response: JsonObject, call_id: str | None = None) -> JsonObject:
    function_response: JsonObject = {"name": name, "response": response}
    if call_id is not None:
        function_response["id"] = call_id
    return {"functionResponse": function_response}


def hub_call(call_id: str, name: str, arguments: str) -> JsonObject:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def weather_tool() -> JsonObject:
    return {"type": "function", "function": {"name": "weather", "parameters": WEATHER_SCHEMA}}


def refused(error: pytest.ExceptionInfo[UnsupportedFeature]) -> str | None:
    return error.value.param


def validate_gemini_request(body: JsonObject) -> None:
    """The parts of a generateContent body the SDK has models for (they forbid extras)."""
    for content in body["contents"]:
        types.Content.model_validate(content)
    if "systemInstruction" in body:
        types.Content.model_validate(body["systemInstruction"])
    for tool in body.get("tools", []):
        types.Tool.model_validate(tool)
    if "toolConfig" in body:
        types.ToolConfig.model_validate(body["toolConfig"])
    if "generationConfig" in body:
        types.GenerationConfig.model_validate(body["generationConfig"])
    assert set(body) <= {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}


def sse_documents(stream: bytes) -> list[JsonObject]:
    events = stream.split(b"\r\n\r\n")
    assert events[-1] == b"", "every event ends with a blank line"
    documents = []
    for event in events[:-1]:
        assert event.startswith(b"data: ")
        document = orjson.loads(event.removeprefix(b"data: "))
        types.GenerateContentResponse.model_validate(document)
        documents.append(document)
    return documents


def sse(document: JsonObject) -> bytes:
    return b"data: " + orjson.dumps(document) + b"\r\n\r\n"


def hub_delta(delta: JsonObject, finish_reason: str | None = None, index: int = 0) -> JsonObject:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason}],
    }


def hub_usage_chunk(usage: TokenUsage) -> JsonObject:
    return {**hub_delta({}), "choices": [], "usage": hub_usage(usage)}


def read_all(reader: GeminiStreamToHub, events: list[JsonObject]) -> list[JsonObject]:
    chunks = [chunk for event in events for chunk in reader.feed(sse(event))]
    chunks.extend(reader.finish())
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    return chunks


def deltas(chunks: list[JsonObject], name: str) -> list[Any]:
    return [
        choice["delta"][name]
        for chunk in chunks
        for choice in chunk["choices"]
        if name in choice["delta"]
    ]


def image(url: str) -> JsonObject:
    return {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": url, "detail": "low"}}],
    }
