"""The error edge: a request's failure answered in its client's format, before its
answer began (a whole error document) or after (the stream's own error event), and a
request cut off by the shutdown's deadline ended like any other error."""

from __future__ import annotations

import asyncio
import logging

from aisonar.errors import AISonarError
from aisonar.gateway.errors import ServerShuttingDown
from aisonar.gateway.http import Exchange
from aisonar.gateway.wire.dialect import Dialect

log = logging.getLogger(__name__)


async def answer_error(exchange: Exchange, error: AISonarError, dialect: Dialect) -> None:
    if exchange.response_started:
        exchange.status = error.status
        render = exchange.stream_error or dialect.stream_error_event
        await exchange.end(render(error))
        return
    headers: list[tuple[bytes, bytes]] = []
    if error.retry_after:
        headers.append((b"retry-after", error.retry_after.encode()))
    body = dialect.render_error(error, exchange.request_id)
    await exchange.respond(error.status, body, extra_headers=headers)


async def answer_cancelled(exchange: Exchange, dialect: Dialect) -> ServerShuttingDown | None:
    """Only uvicorn cancels a request, when the shutdown grace runs out (a client going
    away arrives as ClientDisconnected): the request is uncancelled and answered with
    ServerShuttingDown, which is returned; None when its client already had its whole
    answer."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    if exchange.response_ended:
        return None
    shutting_down = ServerShuttingDown()
    try:
        await answer_error(exchange, shutting_down, dialect)
    except (OSError, RuntimeError):
        # The connection is gone.
        log.debug("could not tell %s of the shutdown", exchange.request_id)
    return shutting_down
