"""A fake OpenAI upstream: the provider the test suite, `aisonar demo` and benchmarks talk to.

These machines reach no real provider, so this aiohttp app speaks OpenAI's API closely enough
for the official `openai` SDK: chat completions (plain, streamed, tool calls, JSON mode, `n`,
`max_tokens`), embeddings and the model list, with configurable latency and stream pacing.

Faults are served on demand, either queued for the next requests to `/v1*` through
`POST /_fake/faults {"fault": NAME, "count": N}` (or `FakeUpstream.fail_next`), or in-band by
putting `[[fault:NAME]]` anywhere in the request body. NAME is one of `FAULTS`: "429", "500",
"503", "timeout" (never answer), "cut" (drop the connection mid-answer) or "no_usage".
`POST /_fake/usage {"usage": {...}}` (or `FakeUpstream.report_usage_next`) makes the next
answer report exactly that usage block, in the answering endpoint's own format.
Errors come back in the format of the endpoint that was called.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, Self

import orjson
from aiohttp import web

from aisonar.gateway.formats.gemini import gemini_status
from aisonar.testing.fake_embeddings import build_embeddings
from aisonar.testing.fake_replies import (
    JsonObject,
    OpenAIError,
    StreamPlan,
    completion_body,
    invalid_param,
    json_object,
    optional_int,
    parse_chat,
    plan_completion,
    plan_stream,
    random_id,
)

FAULTS = frozenset({"429", "500", "503", "timeout", "cut", "no_usage"})
RECEIVED_LIMIT = 1000
# Factories, so that each raise gets a fresh exception (and traceback).
_STATUS_FAULTS: dict[str, Callable[[], OpenAIError]] = {
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
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
_HANG_S = 3600.0
CUT_AFTER_ROUNDS = 2
_SHUTDOWN_TIMEOUT_S = 1.0
_MAX_BODY_BYTES = 64 * 1024 * 1024
_MODEL_CREATED = 1_700_000_000
_INBAND_FAULT = re.compile(rb"\[\[fault:([\w-]+)\]\]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FakeUpstreamConfig:
    """How the fake behaves; `POST /_fake/config` changes fields of a running fake."""

    latency_s: float = 0.0
    ttft_s: float = 0.0
    tokens_per_second: float = 0.0
    api_key: str | None = None
    models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")


@dataclass
class _State:
    config: FakeUpstreamConfig
    faults: deque[str] = field(default_factory=deque)
    usage_blocks: deque[JsonObject] = field(default_factory=deque)
    received: deque[Any] = field(default_factory=lambda: deque(maxlen=RECEIVED_LIMIT))

    def queue_fault(self, fault: Any, count: int) -> None:
        if fault not in FAULTS:
            raise invalid_param("fault", "one of " + ", ".join(sorted(FAULTS)))
        self.faults.extend([fault] * count)

    def next_fault(self, body: bytes) -> str | None:
        return self.faults.popleft() if self.faults else _inband_fault(body)

    def next_usage(self) -> JsonObject | None:
        return self.usage_blocks.popleft() if self.usage_blocks else None


_STATE = web.AppKey("fake_upstream_state", _State)


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


async def _read_json(request: web.Request) -> Any:
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
    key_of: Callable[[web.Request], str | None] = bearer_key,
    *,
    streaming: bool | None = None,
) -> Admission:
    """Authenticate and record a provider request, then serve its fault, if any, that ends it.

    `streaming` says whether the answer will stream, when the body's `stream` does not."""
    state = request.app[_STATE]
    _check_auth(key_of(request), state.config)
    raw = await request.read() if request.body_exists else b""
    body = _parse_json(raw) if raw else None
    if body is not None:
        state.received.append(body)
    fault = state.next_fault(raw)
    if fault in _STATUS_FAULTS:
        raise _STATUS_FAULTS[fault]()
    if fault == "timeout":
        await asyncio.sleep(_HANG_S)
    admission = Admission(state.config, body, fault, state.next_usage())
    if fault == "cut" and not (admission.streaming if streaming is None else streaming):
        raise Cut
    return admission


# --- /v1 endpoints ---------------------------------------------------------------------------


async def _send(response: web.StreamResponse, chunks: list[JsonObject]) -> None:
    for chunk in chunks:
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")


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


async def _stream(
    request: web.Request, config: FakeUpstreamConfig, plan: StreamPlan, *, cut: bool
) -> web.StreamResponse:
    response = await start_event_stream(request, config)
    await _send(response, plan.head)
    for step, chunks in enumerate(plan.rounds):
        if cut and step == CUT_AFTER_ROUNDS:
            break
        if step:
            await pace(config)
        await _send(response, chunks)
    if cut:
        close_connection(request)
        return response
    await _send(response, plan.tail)
    await response.write(b"data: [DONE]\n\n")
    return response


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    admission = await admit(request)
    chat = parse_chat(admission.body)
    completion = plan_completion(chat, report_usage=admission.fault != "no_usage")
    if admission.usage is not None:
        completion = dataclasses.replace(completion, usage=admission.usage)
    if chat.stream:
        plan = plan_stream(completion, include_usage=chat.include_usage)
        return await _stream(request, admission.config, plan, cut=admission.fault == "cut")
    await asyncio.sleep(admission.config.latency_s)
    return json_response(completion_body(completion))


async def _embeddings(request: web.Request) -> web.Response:
    admission = await admit(request)
    reply = build_embeddings(admission.body)
    if admission.fault == "no_usage":
        del reply["usage"]
    await asyncio.sleep(admission.config.latency_s)
    return json_response(reply)


async def _models(request: web.Request) -> web.Response:
    admission = await admit(request)
    data = [
        {"id": model, "object": "model", "created": _MODEL_CREATED, "owned_by": "openai"}
        for model in admission.config.models
    ]
    return json_response({"object": "list", "data": data})


# --- /_fake control endpoints ----------------------------------------------------------------


async def _queue_fault(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    body = json_object(await _read_json(request))
    state.queue_fault(body.get("fault"), optional_int(body, "count") or 1)
    return json_response({"queued": list(state.faults)})


async def _queue_usage(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    body = json_object(await _read_json(request))
    state.usage_blocks.append(json_object(body.get("usage")))
    return json_response({"queued": list(state.usage_blocks)})


async def _clear_faults(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    state.faults.clear()
    state.usage_blocks.clear()
    return json_response({"queued": []})


async def _received(request: web.Request) -> web.Response:
    return json_response(list(request.app[_STATE].received))


def _config_value(name: str, value: Any) -> Any:
    if name == "api_key" and (value is None or isinstance(value, str)):
        return value
    if name == "models" and isinstance(value, list) and all(isinstance(m, str) for m in value):
        return tuple(value)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if name not in ("api_key", "models") and is_number and value >= 0:
        return float(value)
    raise invalid_param(name, "a value of the config field's type")


async def _update_config(request: web.Request) -> web.Response:
    config = request.app[_STATE].config
    names = {config_field.name for config_field in dataclasses.fields(config)}
    updates = json_object(await _read_json(request))
    unknown = sorted(set(updates) - names)
    if unknown:
        raise OpenAIError(400, f"Unknown config fields: {', '.join(unknown)}.", param=unknown[0])
    values = {name: _config_value(name, value) for name, value in updates.items()}
    for name, value in values.items():
        setattr(config, name, value)
    return json_response(dataclasses.asdict(config))


# --- the application -------------------------------------------------------------------------


def _error_body(path: str, error: OpenAIError) -> JsonObject:
    """The error in the shape of the API that `path` belongs to."""
    message = error.body["error"]["message"]
    if path.startswith("/v1/messages"):
        kind = _ANTHROPIC_ERROR_TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if ":" in path.rsplit("/", 1)[-1]:
        status = gemini_status(error.status)
        return {"error": {"code": error.status, "message": message, "status": status}}
    return error.body


@web.middleware
async def _provider_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render errors in the called API's format; drop the connection for a "cut" fault."""
    try:
        return await handler(request)
    except OpenAIError as error:
        return json_response(_error_body(request.path, error), error.status, error.headers)
    except web.HTTPException as error:
        message = f"Invalid URL ({request.method} {request.path})."
        if error.status not in (404, 405):
            message = error.reason
        body = _error_body(request.path, OpenAIError(error.status, message))
        return json_response(body, error.status)
    except Cut:
        close_connection(request)
        return web.Response()


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/v1/"):
        response.headers["x-request-id"] = random_id("req_", 32)


def build_app(config: FakeUpstreamConfig) -> web.Application:
    app = web.Application(middlewares=[_provider_errors], client_max_size=_MAX_BODY_BYTES)
    app[_STATE] = _State(config)
    app.on_response_prepare.append(_add_request_id)
    app.router.add_post("/v1/chat/completions", _chat_completions)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_get("/v1/models", _models)
    app.router.add_post("/_fake/faults", _queue_fault)
    app.router.add_post("/_fake/usage", _queue_usage)
    app.router.add_delete("/_fake/faults", _clear_faults)
    app.router.add_get("/_fake/received", _received)
    app.router.add_post("/_fake/config", _update_config)
    return app


class FakeUpstream:
    """Runs the fake inside the current event loop; `port=0` picks a free port.

    Use as `async with FakeUpstream() as fake:` and point clients at `fake.url`.
    """

    def __init__(
        self, config: FakeUpstreamConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config if config is not None else FakeUpstreamConfig()
        self.host = host
        self.port = port
        self._app = build_app(self.config)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The OpenAI base URL, ending in `/v1`."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def received(self) -> list[Any]:
        """Parsed JSON bodies of the latest requests to `/v1/*`, newest last."""
        return list(self._app[_STATE].received)

    def fail_next(self, fault: str, count: int = 1) -> None:
        """Serve `fault` to the next `count` requests to `/v1/*`."""
        self._app[_STATE].queue_fault(fault, count)

    def report_usage_next(self, block: JsonObject) -> None:
        """Make the next answer report exactly `block` as its usage."""
        self._app[_STATE].usage_blocks.append(block)

    def clear_faults(self) -> None:
        """Forget queued faults and usage blocks."""
        self._app[_STATE].faults.clear()
        self._app[_STATE].usage_blocks.clear()

    async def start(self) -> None:
        runner = web.AppRunner(
            self._app,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


def run(host: str, port: int, config: FakeUpstreamConfig) -> None:
    """Serve the fake until interrupted: the `aisonar fake-upstream` command."""

    def announce(_banner: str) -> None:
        print(f"fake upstream listening on http://{host}:{port}/v1", flush=True)

    web.run_app(
        build_app(config),
        host=host,
        port=port,
        print=announce,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
    )
