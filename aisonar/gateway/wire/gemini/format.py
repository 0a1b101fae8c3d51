"""The Gemini generateContent wire format: usage in and out, and errors.

Gemini's `promptTokenCount` includes the cached tokens (`cachedContentTokenCount`);
`candidatesTokenCount` excludes the thinking tokens (`thoughtsTokenCount`), which are billed
as output, so the normalized output is their sum. Tool-use prompt tokens are input."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.errors import upstream_details
from aisonar.token_usage import TokenUsage

_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
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


def _error_details(error: AISonarError) -> list[dict[str, Any]]:
    """An upstream's error code and field at fault, as Google's own error details do:
    an ErrorInfo's `reason`, a BadRequest's field violation."""
    named = upstream_details(error)
    details: list[dict[str, Any]] = []
    if "code" in named:
        details.append({"@type": _ERROR_INFO, "reason": named["code"], "domain": "upstream"})
    if "param" in named:
        violation = {"field": named["param"], "description": error.message}
        details.append({"@type": _BAD_REQUEST, "fieldViolations": [violation]})
    return details


def render_gemini_error(error: AISonarError) -> bytes:
    body: dict[str, Any] = {
        "code": error.status,
        "message": error.message,
        "status": gemini_status(error.status),
    }
    details = _error_details(error)
    if details:
        body["details"] = details
    return orjson.dumps({"error": body})


def gemini_stream_error_event(error: AISonarError) -> bytes:
    return b"data: " + render_gemini_error(error) + b"\r\n\r\n"


class _WithUsage(msgspec.Struct):
    usageMetadata: dict[str, Any] | None = None


_body_decoder = msgspec.json.Decoder(_WithUsage)


def gemini_body_usage(body: bytes) -> TokenUsage | None:
    try:
        metadata = _body_decoder.decode(body).usageMetadata
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return gemini_usage(metadata) if metadata else None


class GeminiStreamUsage:
    """Usage of a Gemini stream: chunks carry running counts; the one with the finish
    reason carries the final ones. A stream cut before it is estimated."""

    marker = re.compile(rb'"usageMetadata"\s*:\s*\{')

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None

    def observe(self, data: bytes) -> bool:
        try:
            chunk: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            return True
        if not isinstance(chunk, dict) or not isinstance(chunk.get("usageMetadata"), dict):
            return True
        candidates = chunk.get("candidates") or []
        if any(isinstance(c, dict) and c.get("finishReason") for c in candidates):
            self.usage = gemini_usage(chunk["usageMetadata"])
        return True
