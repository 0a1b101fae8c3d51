"""OpenAI's Responses API: the few request fields the gateway reads, and usage.

Its usage counts cached tokens inside `input_tokens` and reasoning inside `output_tokens`,
as chat completions do; a stream reports it once, in its `response.completed` event (or
`response.incomplete` / `response.failed`)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.body.duplicate_fields import refuse_duplicate_fields
from aisonar.gateway.body.errors import invalid_body
from aisonar.gateway.body.output_limit import OutputTokens
from aisonar.token_usage import TokenUsage

_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesRequest(msgspec.Struct):
    model: str
    input: msgspec.Raw = msgspec.Raw(b'""')
    instructions: str | None = None
    stream: bool | None = False
    max_output_tokens: OutputTokens | None = None


_request_decoder = msgspec.json.Decoder(ResponsesRequest)


def parse_responses_request(body: bytes) -> ResponsesRequest:
    try:
        request = _request_decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise invalid_body(error) from None
    refuse_duplicate_fields(body)
    return request


def _detail(block: dict[str, Any], group: str, name: str) -> int:
    details = block.get(group)
    value = details.get(name) if isinstance(details, dict) else None
    return value if isinstance(value, int) else 0


def responses_usage(block: dict[str, Any]) -> TokenUsage:
    return TokenUsage(
        input_tokens=block.get("input_tokens") or 0,
        cached_input_tokens=_detail(block, "input_tokens_details", "cached_tokens"),
        output_tokens=block.get("output_tokens") or 0,
        reasoning_tokens=_detail(block, "output_tokens_details", "reasoning_tokens"),
    )


def responses_usage_block(usage: TokenUsage) -> dict[str, Any]:
    """Usage as a Response reports it."""
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


class _WithUsage(msgspec.Struct):
    usage: dict[str, Any] | None = None


_body_decoder = msgspec.json.Decoder(_WithUsage)


def responses_body_usage(body: bytes) -> TokenUsage | None:
    try:
        block = _body_decoder.decode(body).usage
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return responses_usage(block) if block else None


class ResponsesStreamUsage:
    marker = re.compile(rb'"usage"\s*:\s*\{')

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None

    def observe(self, data: bytes) -> bool:
        try:
            event: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            return True
        if isinstance(event, dict) and event.get("type") in _FINAL_EVENTS:
            response = event.get("response")
            block = response.get("usage") if isinstance(response, dict) else None
            if isinstance(block, dict):
                self.usage = responses_usage(block)
        return True


def responses_delivered_text(events: list[bytes]) -> str:
    """The text and tool arguments a Responses stream delivered, for estimating its tokens."""
    pieces: list[str] = []
    for data in events:
        try:
            event: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and str(event.get("type", "")).endswith(".delta"):
            delta = event.get("delta")
            pieces.append(delta if isinstance(delta, str) else "")
    return "".join(pieces)


def responses_output_text(body: bytes) -> str:
    """The text and tool arguments of a whole Response, for estimating its tokens."""
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    pieces: list[str] = []
    for item in document.get("output") or [] if isinstance(document, dict) else []:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("arguments"), str):
            pieces.append(item["arguments"])
        for part in item.get("content") or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                pieces.append(part["text"])
    return "".join(pieces)


def responses_error_fields(error: AISonarError) -> dict[str, Any]:
    """The fields of the `error` event that ends a Responses stream broken off: flat, as the
    API documents them, and nested under `error`, where the `openai` SDK looks for them."""
    code = error.code or "server_error"
    nested = {"type": error.kind, "code": code, "message": error.message, "param": error.param}
    return {"code": code, "message": error.message, "param": error.param, "error": nested}


def responses_stream_error_event(error: AISonarError) -> bytes:
    """The `error` event that ends a passed-through Responses stream an upstream broke off:
    its events' sequence numbers are the upstream's, so this one carries none."""
    data = {"type": "error", **responses_error_fields(error)}
    return b"event: error\ndata: " + orjson.dumps(data) + b"\n\n"
