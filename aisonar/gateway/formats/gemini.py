"""The Gemini generateContent wire format: usage in and out, and errors.

Gemini's `promptTokenCount` includes the cached tokens (`cachedContentTokenCount`);
`candidatesTokenCount` excludes the thinking tokens (`thoughtsTokenCount`), which are billed
as output, so the normalized output is their sum. Tool-use prompt tokens are input."""

from __future__ import annotations

from typing import Any

import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.formats.usage import TokenUsage

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "FAILED_PRECONDITION",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ALREADY_EXISTS",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _count(block: dict[str, Any], name: str) -> int:
    value = block.get(name)
    return value if isinstance(value, int) else 0


def gemini_usage(metadata: dict[str, Any]) -> TokenUsage:
    thoughts = _count(metadata, "thoughtsTokenCount")
    return TokenUsage(
        input_tokens=_count(metadata, "promptTokenCount")
        + _count(metadata, "toolUsePromptTokenCount"),
        cached_input_tokens=_count(metadata, "cachedContentTokenCount"),
        output_tokens=_count(metadata, "candidatesTokenCount") + thoughts,
        reasoning_tokens=thoughts,
    )


def gemini_usage_metadata(usage: TokenUsage) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": usage.output_tokens - usage.reasoning_tokens,
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }
    if usage.cached_input_tokens:
        metadata["cachedContentTokenCount"] = usage.cached_input_tokens
    if usage.reasoning_tokens:
        metadata["thoughtsTokenCount"] = usage.reasoning_tokens
    return metadata


def gemini_status(http_status: int) -> str:
    if http_status in _STATUSES:
        return _STATUSES[http_status]
    return "INTERNAL" if http_status >= 500 else "FAILED_PRECONDITION"


def render_gemini_error(error: AISonarError) -> bytes:
    return orjson.dumps(
        {
            "error": {
                "code": error.status,
                "message": error.message,
                "status": gemini_status(error.status),
            }
        }
    )


def gemini_stream_error_event(error: AISonarError) -> bytes:
    return b"data: " + render_gemini_error(error) + b"\r\n\r\n"
