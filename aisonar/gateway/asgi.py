"""The gateway's ASGI entry: lean dispatch of the hot routes, one error edge per format,
and the lifespan that starts and stops the background work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any, cast

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from aisonar.clock import RequestIds
from aisonar.errors import AISonarError
from aisonar.gateway import (
    gemini_count_tokens,
    gemini_models,
    key_balance,
    pipeline,
    recharge,
    token_count,
)
from aisonar.gateway.edge import answer_cancelled, answer_error
from aisonar.gateway.embeddings import Embeddings
from aisonar.gateway.endpoint import ANTHROPIC, GEMINI, OPENAI, Endpoint, Handler
from aisonar.gateway.errors import MethodNotAllowed, RouteNotFound
from aisonar.gateway.gemini_embeddings import GeminiEmbed
from aisonar.gateway.gemini_json_stream import stream_json_array
from aisonar.gateway.generation import Generation
from aisonar.gateway.http import Exchange, Receive, Scope, Send
from aisonar.gateway.metrics_access import MetricsTokenRequired, check_metrics_access
from aisonar.gateway.responses_api import Responses
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.websocket_refusal import refuse_websocket
from aisonar.gateway.wire.dialect import Dialect, PathTarget
from aisonar.gateway.wire.gemini.client import query_parameter
from aisonar.usage.writer import UsageWriter

log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

# The relay's own routes; the app mounts the others (ingest's) beside them.
_ROUTES: dict[str, Endpoint] = {
    "/v1/chat/completions": Endpoint("POST", partial(pipeline.serve, Generation(OPENAI))),
    "/v1/messages": Endpoint("POST", partial(pipeline.serve, Generation(ANTHROPIC)), ANTHROPIC),
    "/v1/messages/count_tokens": Endpoint("POST", token_count.count_tokens, ANTHROPIC),
    "/v1/responses": Endpoint("POST", partial(pipeline.serve, Responses())),
    "/v1/embeddings": Endpoint("POST", partial(pipeline.serve, Embeddings())),
    "/v1/models": Endpoint("GET", pipeline.list_models),
    "/v1/me/balance": Endpoint("GET", key_balance.key_balance),
    "/api/me/redeem": Endpoint("POST", recharge.redeem_code),
    "/api/payments/webhook": Endpoint("POST", recharge.payment_webhook, json_body=False),
}
_MODEL_PREFIXES = ("/v1/models/", "/v1beta/models/")
_GEMINI_LISTS = ("/v1/models", "/v1beta/models")
# What the management app serves: the API, and the console's pages (`/` redirects to
# them) and static files.
_WEB_PREFIXES = ("/api/", "/console", "/static/")
# How long the lifespan's shutdown waits for requests (those uvicorn cancelled at the end
# of the shutdown grace) to finish recording before the writers stop.
_DRAIN_TIMEOUT_S = 5.0
# The scope key holding the address the connection came from, kept before a trusted
# proxy's X-Forwarded-For replaces `client`: whether the request came through a trusted
# proxy (and so whether its other headers are believed) is decided on it.
PEER = "aisonar.peer"


class Runtime:
    """What a running app holds: its services and usage writer, set by the lifespan."""

    services: GatewayServices
    writer: UsageWriter


Lifespan = Callable[[Runtime], AbstractAsyncContextManager[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class GatewayApp:
    def __init__(
        self,
        lifespan: Lifespan,
        trusted_proxies: list[str],
        metrics_token: str = "",
        *,
        mounted: Mapping[str, Endpoint],
    ) -> None:
        self._lifespan = lifespan
        # The relay's routes and those mounted from above the gateway (ingest's).
        self._routes = {**_ROUTES, **mounted}
        self._metrics_token = metrics_token
        # The app, not the server, reads X-Forwarded-* (servers run it with uvicorn's
        # proxy headers off), so that the connection's own address is still known.
        self._forwarded = cast(
            ASGIApp, ProxyHeadersMiddleware(cast(Any, self._http), trusted_hosts=trusted_proxies)
        )
        # The management API and the console: every `/api/` and `/console/` request the hot
        # routes do not serve.
        self.web: ASGIApp | None = None
        self._request_ids = RequestIds()
        self.runtime = Runtime()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._in_flight += 1
            self._idle.clear()
            try:
                scope[PEER] = scope.get("client")
                await self._forwarded(scope, receive, send)
            finally:
                self._in_flight -= 1
                if not self._in_flight:
                    self._idle.set()
        elif scope["type"] == "websocket":
            await refuse_websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        await receive()
        try:
            async with self._lifespan(self.runtime):
                await send({"type": "lifespan.startup.complete"})
                await receive()
                await self._drain()
        except Exception as error:
            log.exception("gateway lifespan failed")
            await send({"type": "lifespan.startup.failed", "message": str(error)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def _drain(self) -> None:
        """Let requests still running (cancelled at the end of the grace) finish recording
        their usage and charges before the lifespan stops the writers."""
        if not self._in_flight:
            return
        try:
            await asyncio.wait_for(self._idle.wait(), _DRAIN_TIMEOUT_S)
        except TimeoutError:
            log.warning("shutting down with %d request(s) still running", self._in_flight)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if (
            self.web is not None
            and (path.startswith(_WEB_PREFIXES) or path == "/")
            and path not in self._routes
        ):
            await self.web(scope, receive, send)
            return
        exchange = Exchange(scope, receive, send, self._request_ids.next())
        if path == "/healthz":
            await exchange.respond(200, b'{"status":"ok"}')
            return
        if path == "/readyz":
            await self._ready(exchange)
            return
        if path == "/metrics":
            await self._metrics(exchange)
            return
        endpoint = _endpoint(path, exchange, self._routes)
        try:
            if endpoint is None:
                raise RouteNotFound(f"Unknown request URL: {scope['method']} {path}.")
            if scope["method"] != endpoint.method:
                raise MethodNotAllowed(
                    f"{scope['method']} is not allowed here; use {endpoint.method}."
                )
            exchange.json_body = endpoint.json_body
            await endpoint.handler(self.runtime.services, exchange)
        except AISonarError as error:
            dialect = endpoint.dialect if endpoint else _dialect_of(path, exchange)
            await answer_error(exchange, error, dialect)
        except asyncio.CancelledError:
            dialect = endpoint.dialect if endpoint else _dialect_of(path, exchange)
            await answer_cancelled(exchange, dialect)

    async def _metrics(self, exchange: Exchange) -> None:
        try:
            check_metrics_access(exchange, self._metrics_token)
        except MetricsTokenRequired as error:
            challenge = [(b"www-authenticate", b'Bearer realm="metrics"')]
            body = OPENAI.render_error(error, exchange.request_id)
            await exchange.respond(error.status, body, extra_headers=challenge)
            return
        except AISonarError as error:
            await answer_error(exchange, error, OPENAI)
            return
        body = self.runtime.services.metrics.render()
        await exchange.respond(200, body, PROMETHEUS_CONTENT_TYPE)

    async def _ready(self, exchange: Exchange) -> None:
        try:
            async with self.runtime.services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            await exchange.respond(503, b'{"status":"database unreachable"}')
            return
        await exchange.respond(200, b'{"status":"ready"}')


def _gemini_keyed(exchange: Exchange) -> bool:
    """Whether the key came the Gemini way (`x-goog-api-key`, `?key=`): paths OpenAI also
    serves (`/v1/models`) then answer in Gemini's shape."""
    return GEMINI.credential(exchange) is not None


def _endpoint(path: str, exchange: Exchange, routes: Mapping[str, Endpoint]) -> Endpoint | None:
    if path in _GEMINI_LISTS and (path.startswith("/v1beta/") or _gemini_keyed(exchange)):
        return Endpoint("GET", gemini_models.list_models, GEMINI)
    return routes.get(path) or _model_endpoint(path, exchange)


def _gemini_method(model: str, method: str, exchange: Exchange) -> Endpoint | None:
    """`POST .../models/{model}:{method}`, None for a method Gemini does not have here."""
    if method == "generateContent" or method == "streamGenerateContent":
        stream = method == "streamGenerateContent"
        generation = Generation(GEMINI, PathTarget(model, stream))
        if stream and query_parameter(exchange, "alt") != "sse":
            handler: Handler = partial(stream_json_array, generation=generation)
        else:
            handler = partial(pipeline.serve, generation)
        return Endpoint("POST", handler, GEMINI)
    if method == "countTokens":
        count = partial(gemini_count_tokens.count_tokens, model=model)
        return Endpoint("POST", count, GEMINI)
    if method == "embedContent" or method == "batchEmbedContents":
        return Endpoint("POST", partial(pipeline.serve, GeminiEmbed(model, method)), GEMINI)
    return None


def _model_endpoint(path: str, exchange: Exchange) -> Endpoint | None:
    """`/v1/models/{id}` (OpenAI's, for a key sent the OpenAI way), `/v1(beta)/models/{model}`
    (Gemini's) or `/v1(beta)/models/{model}:{method}` (Gemini's)."""
    prefix = next((p for p in _MODEL_PREFIXES if path.startswith(p)), None)
    if prefix is None or len(path) == len(prefix):
        return None
    name = path[len(prefix) :]
    gemini = prefix.startswith("/v1beta") or _gemini_keyed(exchange)
    model, colon, method = name.rpartition(":")
    if colon and model:
        found = _gemini_method(model, method, exchange)
        # OpenAI's fine-tuned models have colons in their names (`ft:gpt-4o:org::id`).
        if found is not None or gemini or exchange.scope["method"] != "GET":
            return found
    if gemini:
        return Endpoint("GET", partial(gemini_models.get_model, model=name), GEMINI)
    return Endpoint("GET", partial(pipeline.retrieve_model, model=name))


def _dialect_of(path: str, exchange: Exchange) -> Dialect:
    if path.startswith("/v1/messages"):
        return ANTHROPIC
    if path.startswith("/v1beta/") or ":" in path or _gemini_keyed(exchange):
        return GEMINI
    return OPENAI
