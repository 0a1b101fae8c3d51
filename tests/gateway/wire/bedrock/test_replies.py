"""Converse answers back into the hub: whole answers, and ConverseStream's AWS event stream
read from bytes cut anywhere, its exceptions and broken frames included."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from aisonar.gateway.errors import UnreadableUpstream
from aisonar.gateway.wire.bedrock.replies import (
    ConverseStreamToHub,
    UpstreamStreamError,
    converse_response_to_hub,
)
from aisonar.testing.fake_eventstream import event, exception
from aisonar.token_usage import TokenUsage

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
USAGE = {
    "inputTokens": 5,
    "outputTokens": 7,
    "totalTokens": 1012,
    "cacheReadInputTokens": 600,
    "cacheWriteInputTokens": 400,
}
NORMALIZED = TokenUsage(
    input_tokens=1005, cached_input_tokens=600, cache_write_tokens=400, output_tokens=7
)


def frame(kind: str, payload: dict[str, Any]) -> bytes:
    return event(kind, orjson.dumps({**payload, "p": "abcdefgh"}))


def test_a_whole_answer_with_a_tool_call_and_cache_usage() -> None:
    answer = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "Hm.", "signature": "s"}}},
                    {"text": "Let me look."},
                    {
                        "toolUse": {
                            "toolUseId": "tooluse_1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        }
                    },
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": USAGE,
        "metrics": {"latencyMs": 120},
    }

    hub = converse_response_to_hub(answer, MODEL)

    [choice] = hub["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Let me look.",
        "reasoning_content": "Hm.",
        "tool_calls": [
            {
                "id": "tooluse_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    }
    assert hub["model"] == MODEL
    assert hub["usage"]["prompt_tokens"] == 1005
    assert hub["usage"]["prompt_tokens_details"] == {
        "cached_tokens": 600,
        "cache_write_tokens": 400,
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [("end_turn", "stop"), ("max_tokens", "length"), ("guardrail_intervened", "content_filter")],
)
def test_stop_reasons(stop_reason: str, finish: str) -> None:
    answer = {
        "output": {"message": {"role": "assistant", "content": [{"text": "x"}]}},
        "stopReason": stop_reason,
    }

    assert converse_response_to_hub(answer, MODEL)["choices"][0]["finish_reason"] == finish


FRAMES = [
    frame("messageStart", {"role": "assistant"}),
    frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hello "}}),
    frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "there"}}),
    frame("contentBlockStop", {"contentBlockIndex": 0}),
    frame(
        "contentBlockStart",
        {
            "contentBlockIndex": 1,
            "start": {"toolUse": {"toolUseId": "t1", "name": "get_weather"}},
        },
    ),
    frame(
        "contentBlockDelta",
        {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"city":'}}},
    ),
    frame(
        "contentBlockDelta",
        {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '"Paris"}'}}},
    ),
    frame("contentBlockStop", {"contentBlockIndex": 1}),
    frame("messageStop", {"stopReason": "tool_use"}),
    frame("metadata", {"usage": USAGE, "metrics": {"latencyMs": 99}}),
]
STREAM = b"".join(FRAMES)


def deltas(chunks: list[dict[str, Any]]) -> list[Any]:
    return [
        chunk["choices"][0]["delta"] if chunk["choices"] else chunk["usage"] for chunk in chunks
    ]


@pytest.mark.parametrize("piece", [1, 7, 64, len(STREAM)])
def test_a_stream_read_in_pieces_of_any_size(piece: int) -> None:
    reader = ConverseStreamToHub(MODEL)
    chunks = [
        chunk
        for at in range(0, len(STREAM), piece)
        for chunk in reader.feed(STREAM[at : at + piece])
    ]
    chunks += reader.finish()

    assert deltas(chunks)[:6] == [
        {"role": "assistant", "content": ""},
        {"content": "Hello "},
        {"content": "there"},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["prompt_tokens"] == 1005
    assert reader.usage == NORMALIZED
    assert len({chunk["id"] for chunk in chunks}) == 1


def test_a_stream_cut_before_its_metadata_has_no_usage_but_ends() -> None:
    reader = ConverseStreamToHub(MODEL)
    cut = b"".join(FRAMES[:-1]) + FRAMES[-1][:20]

    chunks = reader.feed(cut)

    assert reader.usage is None
    [end] = reader.finish()
    assert end["choices"][0]["finish_reason"] == "tool_calls"
    assert all(chunk["choices"] for chunk in chunks)


def test_an_exception_frame_ends_the_stream_with_an_upstream_error() -> None:
    reader = ConverseStreamToHub(MODEL)
    reader.feed(frame("messageStart", {"role": "assistant"}))

    with pytest.raises(UpstreamStreamError) as failed:
        reader.feed(exception("throttlingException", b'{"message":"Too many tokens, slow down."}'))

    assert "throttlingException" in failed.value.message
    assert failed.value.recorded_message == "upstream stream error (throttlingException)"


def test_what_came_before_an_exception_in_the_same_bytes_is_delivered_first() -> None:
    reader = ConverseStreamToHub(MODEL)
    failure = exception("throttlingException", b'{"message":"Too many tokens."}')

    chunks = reader.feed(b"".join(FRAMES[:3]) + failure + FRAMES[3])

    assert [chunk["choices"][0]["delta"] for chunk in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "Hello "},
        {"content": "there"},
    ]
    with pytest.raises(UpstreamStreamError):
        reader.finish()


def test_a_frame_whose_checksum_fails_is_unreadable() -> None:
    broken = bytearray(frame("messageStart", {"role": "assistant"}))
    broken[-1] ^= 0xFF

    with pytest.raises(UnreadableUpstream):
        ConverseStreamToHub(MODEL).feed(bytes(broken))
