"""The gateway's ASGI entry: lean dispatch of the hot routes, one error edge per format,
and the lifespan that starts and stops the background work."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from aisonar.billing import views as billing_views
from aisonar.clock import RequestIds
from aisonar.errors import AISonarError
from aisonar.gateway import pipeline
from aisonar.gateway.errors import MethodNotAllowed, RouteNotFound
from aisonar.gateway.formats.openai_errors import openai_stream_error_event, render_openai_error
from aisonar.gateway.http import Exchange, Receive, Scope, Send
from aisonar.gateway.metering import RequestMeter
from aisonar.usage.writer import UsageWriter

log = logging.getLogger(__name__)

Handler = Callable[[pipeline.GatewayServices, Exchange, RequestMeter], Awaitable[None]]

# path -> (method, handler, metered)
_ROUTES: dict[str, tuple[str, Handler, bool]] = {
    "/v1/chat/completions": ("POST", pipeline.chat_completions, True),
    "/v1/embeddings": ("POST", pipeline.embeddings, True),
    "/v1/models": ("GET", pipeline.list_models, False),
    "/api/me/redeem": ("POST", billing_views.redeem_code, False),
    "/api/payments/webhook": ("POST", billing_views.payment_webhook, False),
}
_MODEL_PREFIX = "/v1/models/"


class Runtime:
    """What a running app holds: its services and usage writer, set by the lifespan."""

    services: pipeline.GatewayServices
    writer: UsageWriter


Lifespan = Callable[[Runtime], AbstractAsyncContextManager[None]]


class GatewayApp:
    def __init__(self, lifespan: Lifespan) -> None:
        self._lifespan = lifespan
        self._request_ids = RequestIds()
        self.runtime = Runtime()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        await receive()
        try:
            async with self._lifespan(self.runtime):
                await send({"type": "lifespan.startup.complete"})
                await receive()
        except Exception as error:
            log.exception("gateway lifespan failed")
            await send({"type": "lifespan.startup.failed", "message": str(error)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        exchange = Exchange(scope, receive, send, self._request_ids.next())
        if path == "/healthz":
            await exchange.respond(200, b'{"status":"ok"}')
            return
        if path == "/readyz":
            await self._ready(exchange)
            return
        meter = RequestMeter(
            request_id=exchange.request_id, endpoint=path, client_ip=exchange.client_ip
        )
        metered = True
        try:
            handler, metered = self._route(scope["method"], path)
            await handler(self.runtime.services, exchange, meter)
        except AISonarError as error:
            meter.error = error
            await _send_error(exchange, error)
        finally:
            if metered and meter.identity is not None:
                self.runtime.writer.submit(meter.finish(exchange.status or 500))

    def _route(self, method: str, path: str) -> tuple[Handler, bool]:
        if path.startswith(_MODEL_PREFIX) and len(path) > len(_MODEL_PREFIX):
            model = path[len(_MODEL_PREFIX) :]

            async def retrieve(
                services: pipeline.GatewayServices, exchange: Exchange, meter: RequestMeter
            ) -> None:
                await pipeline.retrieve_model(services, exchange, meter, model)

            return _checked(method, "GET", retrieve), False
        found = _ROUTES.get(path)
        if found is None:
            raise RouteNotFound(f"Unknown request URL: {method} {path}.")
        expected, handler, metered = found
        return _checked(method, expected, handler), metered

    async def _ready(self, exchange: Exchange) -> None:
        try:
            async with self.runtime.services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            await exchange.respond(503, b'{"status":"database unreachable"}')
            return
        await exchange.respond(200, b'{"status":"ready"}')


def _checked(method: str, expected: str, handler: Handler) -> Handler:
    if method != expected:
        raise MethodNotAllowed(f"{method} is not allowed here; use {expected}.")
    return handler


async def _send_error(exchange: Exchange, error: AISonarError) -> None:
    if exchange.response_started:
        exchange.status = error.status
        await exchange.end(openai_stream_error_event(error))
        return
    headers: list[tuple[bytes, bytes]] = []
    if error.retry_after:
        headers.append((b"retry-after", error.retry_after.encode()))
    await exchange.respond(error.status, render_openai_error(error), extra_headers=headers)
