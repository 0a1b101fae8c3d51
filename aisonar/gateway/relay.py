"""Forward: hand the upstream's answer to the client as it arrives, reading usage on
the way. Streams are framed into whole SSE events but never buffered beyond one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

from aisonar.gateway.errors import ClientDisconnected
from aisonar.gateway.formats.openai import TokenUsage, read_usage
from aisonar.gateway.http import JSON_CONTENT_TYPE, SSE_HEADERS, Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.sse import SseSplitter, event_data

# Stream chunks kept (by reference) so tokens can be estimated if no usage arrives.
_MAX_KEPT_FOR_ESTIMATE = 4 * 1024 * 1024
_USAGE_MARKER = b'"usage"'
_DONE = b"[DONE]"

Estimator = Callable[[list[bytes]], TokenUsage]


async def relay_json(
    exchange: Exchange,
    response: aiohttp.ClientResponse,
    meter: RequestMeter,
    estimate: Estimator,
) -> None:
    body = await response.read()
    meter.first_byte()
    usage = read_usage(body).usage
    meter.usage = usage if usage is not None else estimate([body])
    await exchange.respond(response.status, body, JSON_CONTENT_TYPE)


class _StreamState:
    __slots__ = ("kept", "kept_bytes", "usage")

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None
        self.kept: list[bytes] = []
        self.kept_bytes = 0

    def keep(self, data: bytes) -> None:
        if self.kept_bytes < _MAX_KEPT_FOR_ESTIMATE:
            self.kept.append(data)
            self.kept_bytes += len(data)


def _pass_event(event: bytes, state: _StreamState, hide_usage: bool) -> bool:
    """Read one event; False when the client must not see it (a usage chunk it did not ask for)."""
    data = event_data(event)
    if not data or data == _DONE:
        return True
    if _USAGE_MARKER in data:
        reading = read_usage(data)
        if reading.usage is not None:
            state.usage = reading.usage
            if hide_usage and reading.usage_only:
                return False
    state.keep(data)
    return True


async def relay_stream(
    exchange: Exchange,
    response: aiohttp.ClientResponse,
    meter: RequestMeter,
    *,
    hide_usage: bool,
    estimate: Estimator,
) -> None:
    state = _StreamState()
    splitter = SseSplitter()
    await exchange.start(200, SSE_HEADERS)
    try:
        async with _cancel_on_disconnect(exchange):
            async for chunk in response.content.iter_any():
                meter.first_byte()
                events = splitter.feed(chunk)
                forward = [event for event in events if _pass_event(event, state, hide_usage)]
                if forward:
                    await exchange.write(b"".join(forward) if len(forward) > 1 else forward[0])
            if splitter.remainder().strip():
                await exchange.write(splitter.remainder())
    finally:
        # Whatever ended the stream, charge what the upstream reported or else what was delivered.
        meter.usage = state.usage if state.usage is not None else estimate(state.kept)
    await exchange.end()


class _cancel_on_disconnect:
    """Cancel the relay at once when the client goes away, so the upstream stream is closed."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._disconnected = False
        self._watcher: asyncio.Task[None] | None = None

    async def _watch(self, relay: asyncio.Task[object]) -> None:
        while (await self._exchange.receive())["type"] != "http.disconnect":
            pass
        self._disconnected = True
        relay.cancel()

    async def __aenter__(self) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        self._watcher = asyncio.create_task(self._watch(relay))

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._watcher is not None
        self._watcher.cancel()
        if self._disconnected and exc_type is asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise ClientDisconnected("The client closed the connection mid-stream.")
