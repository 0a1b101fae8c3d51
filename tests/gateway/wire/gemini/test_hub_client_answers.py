"""Gemini translation: hub answers and streams going out to Gemini clients."""

from __future__ import annotations

import pytest
from google.genai import types

from aisonar.gateway.errors import UnreadableUpstream
from aisonar.gateway.wire.gemini.hub_client_answers import HubToGeminiStream, hub_response_to_gemini
from aisonar.gateway.wire.hub import JsonObject, hub_usage
from aisonar.token_usage import TokenUsage
from tests.gateway.wire.gemini.cases import (
    MODEL,
    hub_call,
    hub_delta,
    hub_usage_chunk,
    sse_documents,
)

# Gemini request -> hub


# Hub answer -> Gemini


def hub_answer(message: JsonObject, finish_reason: str = "stop") -> JsonObject:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "finish_reason": finish_reason,
            }
        ],
        "usage": hub_usage(
            TokenUsage(input_tokens=10, cached_input_tokens=4, output_tokens=7, reasoning_tokens=3)
        ),
    }


def test_a_hub_answer_becomes_a_generate_content_response() -> None:
    message = {
        "content": "Let me check.",
        "reasoning_content": "Thinking...",
        "tool_calls": [hub_call("call_a", "weather", '{"city":"Paris"}')],
    }
    response = hub_response_to_gemini(hub_answer(message, "tool_calls"), MODEL)
    types.GenerateContentResponse.model_validate(response)
    assert response == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Thinking...", "thought": True},
                        {"text": "Let me check."},
                        {
                            "functionCall": {
                                "id": "call_a",
                                "name": "weather",
                                "args": {"city": "Paris"},
                            }
                        },
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 4,
            "totalTokenCount": 17,
            "cachedContentTokenCount": 4,
            "thoughtsTokenCount": 3,
        },
        "modelVersion": MODEL,
        "responseId": "chatcmpl-9",
    }


@pytest.mark.parametrize(
    ("finish_reason", "gemini_reason"),
    [("stop", "STOP"), ("length", "MAX_TOKENS"), ("content_filter", "SAFETY"), ("odd", "OTHER")],
)
def test_finish_reasons_map_to_gemini(finish_reason: str, gemini_reason: str) -> None:
    response = hub_response_to_gemini(hub_answer({"content": "x"}, finish_reason), MODEL)
    assert response["candidates"][0]["finishReason"] == gemini_reason


def test_malformed_tool_arguments_of_an_upstream_are_unreadable() -> None:
    answer = hub_answer({"content": None, "tool_calls": [hub_call("c", "f", "{oops")]})
    with pytest.raises(UnreadableUpstream):
        hub_response_to_gemini(answer, MODEL)


# Hub stream -> Gemini stream


def test_hub_stream_text_goes_out_as_it_comes_and_usage_last() -> None:
    writer = HubToGeminiStream(MODEL)
    usage = TokenUsage(input_tokens=5, output_tokens=2)
    out = [
        writer.feed(hub_delta({"role": "assistant", "content": ""})),
        writer.feed(hub_delta({"content": "Hel"})),
        writer.feed(hub_delta({"content": "lo"})),
        writer.feed(hub_delta({}, "stop")),
        writer.feed(hub_usage_chunk(usage)),
        writer.finish(),
    ]
    assert out[0] == b""
    assert [doc["candidates"][0]["content"]["parts"] for doc in sse_documents(out[1] + out[2])] == [
        [{"text": "Hel"}],
        [{"text": "lo"}],
    ]
    assert out[3] == b"" and out[5] == b""
    (last,) = sse_documents(out[4])
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"] == {
        "promptTokenCount": 5,
        "candidatesTokenCount": 2,
        "totalTokenCount": 7,
    }
    assert last["responseId"] == "chatcmpl-1"
    assert last["modelVersion"] == MODEL


def test_hub_stream_tool_calls_go_out_whole_once_finished() -> None:
    writer = HubToGeminiStream(MODEL)
    pieces = [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "weather", "arguments": ""},
        },
        {
            "index": 1,
            "id": "call_b",
            "type": "function",
            "function": {"name": "clock", "arguments": "{}"},
        },
        {"index": 0, "function": {"arguments": '{"city":'}},
        {"index": 0, "function": {"arguments": '"Paris"}'}},
    ]
    assert all(writer.feed(hub_delta({"tool_calls": [piece]})) == b"" for piece in pieces)
    (calls,) = sse_documents(writer.feed(hub_delta({}, "tool_calls")))
    assert calls["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Paris"}}},
        {"functionCall": {"id": "call_b", "name": "clock", "args": {}}},
    ]
    (last,) = sse_documents(writer.finish())
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert "usageMetadata" not in last


def test_hub_stream_thoughts_are_thought_parts() -> None:
    writer = HubToGeminiStream(MODEL)
    (doc,) = sse_documents(writer.feed(hub_delta({"reasoning_content": "Hmm"})))
    assert doc["candidates"][0]["content"]["parts"] == [{"text": "Hmm", "thought": True}]


def test_a_hub_stream_cut_short_still_delivers_its_calls_and_nothing_twice() -> None:
    writer = HubToGeminiStream(MODEL)
    piece = {
        "index": 0,
        "id": "c",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    writer.feed(hub_delta({"tool_calls": [piece]}))
    (calls,) = sse_documents(writer.finish())
    assert calls["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"id": "c", "name": "f", "args": {}}}
    ]
    assert "finishReason" not in calls["candidates"][0]
    assert writer.finish() == b""
    assert writer.feed(hub_delta({"content": "late"})) == b""
    assert HubToGeminiStream(MODEL).finish() == b""


def test_hub_stream_choices_keep_their_index() -> None:
    writer = HubToGeminiStream(MODEL)
    (doc,) = sse_documents(writer.feed(hub_delta({"content": "b"}, index=1)))
    assert doc["candidates"][0]["index"] == 1
    writer.feed(hub_delta({}, "stop", index=1))
    writer.feed(hub_delta({}, "length", index=0))
    (last,) = sse_documents(writer.feed(hub_usage_chunk(TokenUsage())))
    assert [(c["index"], c["finishReason"]) for c in last["candidates"]] == [
        (0, "MAX_TOKENS"),
        (1, "STOP"),
    ]
