"""The Anthropic Messages wire format: usage in and out, and errors.

Anthropic reports `input_tokens` without the cached reads (`cache_read_input_tokens`) and
cache writes (`cache_creation_input_tokens`); the normalized usage counts all three as input.
Thinking tokens are inside `output_tokens` and not reported apart."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.errors import upstream_details
from aisonar.token_usage import TokenUsage

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _count(block: dict[str, Any], name: str) -> int:
    value = block.get(name)
    return value if isinstance(value, int) else 0


def anthropic_usage(block: dict[str, Any]) -> TokenUsage:
    cached = _count(block, "cache_read_input_tokens")
    written = _count(block, "cache_creation_input_tokens")
    return TokenUsage(
        input_tokens=_count(block, "input_tokens") + cached + written,
        cached_input_tokens=cached,
        cache_write_tokens=written,
        output_tokens=_count(block, "output_tokens"),
    )


def anthropic_usage_block(usage: TokenUsage) -> dict[str, Any]:
    return {
        "input_tokens": max(
            usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens, 0
        ),
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
    }


def merge_anthropic_usage(start: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """A stream's usage: `message_start`'s block updated by `message_delta`'s non-null fields."""
    return {**start, **{name: value for name, value in delta.items() if value is not None}}


def anthropic_error_type(error: AISonarError) -> str:
    if error.status in _ERROR_TYPES:
        return _ERROR_TYPES[error.status]
    return "api_error"


def render_anthropic_error(error: AISonarError, request_id: str | None = None) -> bytes:
    document: dict[str, Any] = {
        "type": "error",
        # Messages errors have no field for the upstream's `param` and `code`: they come
        # after Anthropic's own, where the SDK's `error.body` shows them.
        "error": {
            "type": anthropic_error_type(error),
            "message": error.message,
            **upstream_details(error),
        },
    }
    if request_id is not None:
        document["request_id"] = request_id
    return orjson.dumps(document)


def anthropic_stream_error_event(error: AISonarError) -> bytes:
    return b"event: error\ndata: " + render_anthropic_error(error) + b"\n\n"


class _WithUsage(msgspec.Struct):
    usage: dict[str, Any] | None = None


_body_decoder = msgspec.json.Decoder(_WithUsage)


def anthropic_body_usage(body: bytes) -> TokenUsage | None:
    try:
        block = _body_decoder.decode(body).usage
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return anthropic_usage(block) if block else None


class AnthropicStreamUsage:
    """Usage of a Messages stream: `message_start` reports the input side, `message_delta`
    the final counts. Only a stream that reached `message_delta` has real usage; one cut
    before it is estimated from what was delivered."""

    marker = re.compile(rb'"usage"\s*:\s*\{')

    def __init__(self) -> None:
        self._block: dict[str, Any] = {}
        self.usage: TokenUsage | None = None

    def observe(self, data: bytes) -> bool:
        try:
            event: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            return True
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "message_start" and isinstance(event.get("message"), dict):
            self._block = event["message"].get("usage") or {}
        elif kind == "message_delta" and isinstance(event.get("usage"), dict):
            self._block = merge_anthropic_usage(self._block, event["usage"])
            self.usage = anthropic_usage(self._block)
        return True
