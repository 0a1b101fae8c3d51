"""The Converse wire format as data: usage and stop reasons.

Converse reports `inputTokens` without the cached reads (`cacheReadInputTokens`) and the
cache writes (`cacheWriteInputTokens`), as Anthropic does; the normalized usage counts all
three as input (`totalTokens` is their sum plus the output)."""

from __future__ import annotations

from typing import Any

import msgspec

from aisonar.token_usage import TokenUsage

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def _count(block: dict[str, Any], name: str) -> int:
    value = block.get(name)
    return value if isinstance(value, int) else 0


def converse_usage(block: dict[str, Any]) -> TokenUsage:
    cached = _count(block, "cacheReadInputTokens")
    written = _count(block, "cacheWriteInputTokens")
    return TokenUsage(
        input_tokens=_count(block, "inputTokens") + cached + written,
        cached_input_tokens=cached,
        cache_write_tokens=written,
        output_tokens=_count(block, "outputTokens"),
    )


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


class _WithUsage(msgspec.Struct):
    usage: dict[str, Any] | None = None


_body_decoder = msgspec.json.Decoder(_WithUsage)


def converse_body_usage(body: bytes) -> TokenUsage | None:
    try:
        block = _body_decoder.decode(body).usage
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return converse_usage(block) if block else None
