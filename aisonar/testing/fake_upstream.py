"""A fake OpenAI upstream: the provider the test suite, `aisonar demo` and benchmarks talk to.

These machines reach no real provider, so this aiohttp app speaks OpenAI's API closely enough
for the official `openai` SDK: chat completions (plain, streamed, tool calls, JSON mode, `n`,
`max_tokens`), embeddings and the model list, with configurable latency and stream pacing.

Faults are served on demand, either queued for the next requests to `/v1/*` through
`POST /_fake/faults {"fault": NAME, "count": N}` (or `FakeUpstream.fail_next`), or in-band by
putting `[[fault:NAME]]` in the last user message. NAME is one of `FAULTS`: "429", "500",
"503", "timeout" (never answer), "cut" (drop the connection mid-answer) or "no_usage".
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

from aisonar.testing.fake_embeddings import build_embeddings
from aisonar.testing.fake_replies import (
    JsonObject,
    OpenAIError,
    StreamPlan,
    completion_body,
    invalid_param,
    json_object,
    last_user_text,
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
_HANG_S = 3600.0
_CUT_AFTER_ROUNDS = 2
_SHUTDOWN_TIMEOUT_S = 1.0
_MAX_BODY_BYTES = 64 * 1024 * 1024
_MODEL_CREATED = 1_700_000_000
_INBAND_FAULT = re.compile(r"\[\[fault:([\w-]+)\]\]")

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
    received: deque[Any] = field(default_factory=lambda: deque(maxlen=RECEIVED_LIMIT))

    def queue_fault(self, fault: Any, count: int) -> None:
        if fault not in FAULTS:
            raise invalid_param("fault", "one of " + ", ".join(sorted(FAULTS)))
        self.faults.extend([fault] * count)

    def next_fault(self, body: Any) -> str | None:
        return self.faults.popleft() if self.faults else _inband_fault(body)


_STATE = web.AppKey("fake_upstream_state", _State)


class _Cut(Exception):
    """Raised to drop the connection without answering."""


def _inband_fault(body: Any) -> str | None:
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return None
    text = last_user_text([message for message in messages if isinstance(message, dict)])
    match = _INBAND_FAULT.search(text)
    return match.group(1) if match and match.group(1) in FAULTS else None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


async def _read_json(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as error:
        raise OpenAIError(400, "We could not parse the JSON body of your request.") from error


def _check_auth(request: web.Request, config: FakeUpstreamConfig) -> None:
    if config.api_key is None:
        return
    if request.headers.get("Authorization") != f"Bearer {config.api_key}":
        raise OpenAIError(401, "Incorrect API key provided.", code="invalid_api_key")


def _close_connection(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


async def _admit(request: web.Request) -> tuple[_State, Any, str | None]:
    """Authenticate and record a `/v1` request, then serve its fault, if any, that ends it.

    Returns the state, the parsed body and the fault the handler still has to act on.
    """
    state = request.app[_STATE]
    _check_auth(request, state.config)
    body = await _read_json(request)
    if body is not None:
        state.received.append(body)
    fault = state.next_fault(body)
    if fault in _STATUS_FAULTS:
        raise _STATUS_FAULTS[fault]()
    if fault == "timeout":
        await asyncio.sleep(_HANG_S)
    streaming = isinstance(body, dict) and body.get("stream") is True
    if fault == "cut" and not streaming:
        raise _Cut
    return state, body, fault


# --- /v1 endpoints ---------------------------------------------------------------------------


async def _send(response: web.StreamResponse, chunks: list[JsonObject]) -> None:
    for chunk in chunks:
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")


async def _stream(
    request: web.Request, config: FakeUpstreamConfig, plan: StreamPlan, *, cut: bool
) -> web.StreamResponse:
    await asyncio.sleep(config.ttft_s)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    await _send(response, plan.head)
    for step, chunks in enumerate(plan.rounds):
        if cut and step == _CUT_AFTER_ROUNDS:
            break
        if step and config.tokens_per_second > 0:
            await asyncio.sleep(1 / config.tokens_per_second)
        await _send(response, chunks)
    if cut:
        _close_connection(request)
        return response
    await _send(response, plan.tail)
    await response.write(b"data: [DONE]\n\n")
    return response


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    state, body, fault = await _admit(request)
    chat = parse_chat(body)
    completion = plan_completion(chat, report_usage=fault != "no_usage")
    if chat.stream:
        plan = plan_stream(completion, include_usage=chat.include_usage)
        return await _stream(request, state.config, plan, cut=fault == "cut")
    await asyncio.sleep(state.config.latency_s)
    return _json(completion_body(completion))


async def _embeddings(request: web.Request) -> web.Response:
    state, body, fault = await _admit(request)
    reply = build_embeddings(body)
    if fault == "no_usage":
        del reply["usage"]
    await asyncio.sleep(state.config.latency_s)
    return _json(reply)


async def _models(request: web.Request) -> web.Response:
    state, _body, _fault = await _admit(request)
    data = [
        {"id": model, "object": "model", "created": _MODEL_CREATED, "owned_by": "openai"}
        for model in state.config.models
    ]
    return _json({"object": "list", "data": data})


# --- /_fake control endpoints ----------------------------------------------------------------


async def _queue_fault(request: web.Request) -> web.Response:
    state = request.app[_STATE]
    body = json_object(await _read_json(request))
    state.queue_fault(body.get("fault"), optional_int(body, "count") or 1)
    return _json({"queued": list(state.faults)})


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[_STATE].faults.clear()
    return _json({"queued": []})


async def _received(request: web.Request) -> web.Response:
    return _json(list(request.app[_STATE].received))


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
    return _json(dataclasses.asdict(config))


# --- the application -------------------------------------------------------------------------


@web.middleware
async def _openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render errors in OpenAI's format; drop the connection for a "cut" fault."""
    try:
        return await handler(request)
    except OpenAIError as error:
        return _json(error.body, error.status, error.headers)
    except web.HTTPException as error:
        message = f"Invalid URL ({request.method} {request.path})."
        if error.status not in (404, 405):
            message = error.reason
        return _json(OpenAIError(error.status, message).body, error.status)
    except _Cut:
        _close_connection(request)
        return web.Response()


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/v1/"):
        response.headers["x-request-id"] = random_id("req_", 32)


def build_app(config: FakeUpstreamConfig) -> web.Application:
    app = web.Application(middlewares=[_openai_errors], client_max_size=_MAX_BODY_BYTES)
    app[_STATE] = _State(config)
    app.on_response_prepare.append(_add_request_id)
    app.router.add_post("/v1/chat/completions", _chat_completions)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_get("/v1/models", _models)
    app.router.add_post("/_fake/faults", _queue_fault)
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

    def clear_faults(self) -> None:
        self._app[_STATE].faults.clear()

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
