"""What every provider's fake shares: its configuration and state, authentication, fault
injection, queued usage blocks, and the bits of HTTP each answer needs."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from aisonar.testing.fake_replies import JsonObject, OpenAIError, invalid_param

FAULTS = frozenset({"400", "413", "429", "500", "503", "timeout", "cut", "no_usage"})
RECEIVED_LIMIT = 1000
# Factories, so that each raise gets a fresh exception (and traceback).
_STATUS_FAULTS: dict[str, Callable[[], OpenAIError]] = {
    "400": partial(
        OpenAIError,
        400,
        "This model's maximum context length is 128000 tokens. Please reduce the length"
        " of the messages.",
        param="messages",
        code="context_length_exceeded",
    ),
    "413": partial(OpenAIError, 413, "Request too large.", code="request_too_large"),
    "429": partial(
        OpenAIError,
        429,
        "Rate limit reached for requests. Please try again in 1s.",
        type="rate_limit_error",
        code="rate_limit_exceeded",
        headers={"Retry-After": "1"},
    ),
    "500": partial(
        OpenAIError,
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    ),
    "503": partial(
        OpenAIError,
        503,
        "The engine is currently overloaded, please try again later.",
        type="server_error",
    ),
}
_HANG_S = 3600.0
CUT_AFTER_ROUNDS = 2
_INBAND_FAULT = re.compile(rb"\[\[fault:([\w-]+)\]\]")


@dataclass
class FakeUpstreamConfig:
    """How the fake behaves; `POST /_fake/config` changes fields of a running fake."""

    latency_s: float = 0.0
    ttft_s: float = 0.0
    tokens_per_second: float = 0.0
    api_key: str | None = None
    models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")
    # How long the access tokens of the fake's Google OAuth endpoint last.
    google_token_lifetime_s: float = 3600.0


@dataclass
class FakeState:
    config: FakeUpstreamConfig
    faults: deque[str] = field(default_factory=deque)
    usage_blocks: deque[JsonObject] = field(default_factory=deque)
    received: deque[Any] = field(default_factory=lambda: deque(maxlen=RECEIVED_LIMIT))
    received_headers: deque[dict[str, str]] = field(
        default_factory=lambda: deque(maxlen=RECEIVED_LIMIT)
    )
    streams_abandoned_at: deque[float] = field(default_factory=lambda: deque(maxlen=RECEIVED_LIMIT))
    # Every request with a body ever received: `received` keeps only the latest.
    received_count: int = 0

    def queue_fault(self, fault: Any, count: int) -> None:
        if fault not in FAULTS:
            raise invalid_param("fault", "one of " + ", ".join(sorted(FAULTS)))
        self.faults.extend([fault] * count)

    def next_fault(self, body: bytes) -> str | None:
        return self.faults.popleft() if self.faults else _inband_fault(body)

    def next_usage(self) -> JsonObject | None:
        return self.usage_blocks.popleft() if self.usage_blocks else None


STATE = web.AppKey("fake_upstream_state", FakeState)


class Cut(Exception):
    """Raised to drop the connection without answering."""


@dataclass(frozen=True)
class Admission:
    """An admitted request: its parsed body, the fault still to act on (one of "cut" and
    "no_usage", or None) and a usage block to report verbatim instead of the computed one."""

    config: FakeUpstreamConfig
    body: Any
    fault: str | None
    usage: JsonObject | None

    @property
    def streaming(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True


def _inband_fault(body: bytes) -> str | None:
    match = _INBAND_FAULT.search(body)
    if match is None:
        return None
    fault = match.group(1).decode()
    return fault if fault in FAULTS else None


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise OpenAIError(400, "We could not parse the JSON body of your request.") from error


async def read_json(request: web.Request) -> Any:
    return _parse_json(await request.read()) if request.body_exists else None


def bearer_key(request: web.Request) -> str | None:
    """OpenAI's way of sending the key; each provider's fake passes its own."""
    authorization = request.headers.get("Authorization", "")
    return authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None


def _check_auth(presented: str | None, config: FakeUpstreamConfig) -> None:
    if config.api_key is not None and presented != config.api_key:
        raise OpenAIError(401, "Incorrect API key provided.", code="invalid_api_key")


def close_connection(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


async def admit(
    request: web.Request,
    key_of: Callable[[web.Request], str | None] | None = bearer_key,
    *,
    streaming: bool | None = None,
) -> Admission:
    """Authenticate and record a provider request, then serve its fault, if any, that ends it.

    `key_of` reads the key compared with the configured one; None when the caller checked
    other credentials itself (Google's access tokens). `streaming` says whether the answer
    will stream, when the body's `stream` does not."""
    state = request.app[STATE]
    if key_of is not None:
        _check_auth(key_of(request), state.config)
    raw = await request.read() if request.body_exists else b""
    body = _parse_json(raw) if raw else None
    if body is not None:
        state.received.append(body)
        state.received_headers.append(dict(request.headers))
        state.received_count += 1
    fault = state.next_fault(raw)
    if fault in _STATUS_FAULTS:
        raise _STATUS_FAULTS[fault]()
    if fault == "timeout":
        await asyncio.sleep(_HANG_S)
    admission = Admission(state.config, body, fault, state.next_usage())
    if fault == "cut" and not (admission.streaming if streaming is None else streaming):
        raise Cut
    return admission


async def start_event_stream(
    request: web.Request, config: FakeUpstreamConfig
) -> web.StreamResponse:
    """Wait the time to first token, then open a `text/event-stream` answer."""
    await asyncio.sleep(config.ttft_s)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    return response


async def pace(config: FakeUpstreamConfig) -> None:
    """The pause between two streamed pieces."""
    if config.tokens_per_second > 0:
        await asyncio.sleep(1 / config.tokens_per_second)
