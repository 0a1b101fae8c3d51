"""Forward: hand the upstream's answer to the client as it arrives, reading usage on
the way. Streams are framed into whole SSE events but never buffered beyond one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import aiohttp

from aisonar.gateway.errors import ClientDisconnected
from aisonar.gateway.formats.openai import read_usage
from aisonar.gateway.formats.usage import TokenUsage
from aisonar.gateway.http import JSON_CONTENT_TYPE, SSE_HEADERS, Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.sse import SseSplitter, event_data

# Stream chunks kept (by reference) so tokens can be estimated if no usage arrives.
_MAX_KEPT_FOR_ESTIMATE = 4 * 1024 * 1024
# A usage object, not the `"usage": null` every chunk carries once usage was asked for.
_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
_DONE = b"[DONE]"
_WATCH_AFTER_S = 0.05

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

    def delivered_payloads(self) -> list[bytes]:
        events = SseSplitter().feed(b"".join(self.kept) + b"\n\n")
        return [data for data in map(event_data, events) if data and data != _DONE]


def _pass_event(event: bytes, state: _StreamState, hide_usage: bool) -> bool:
    """Read one event; False when the client must not see it (a usage chunk it did not ask for)."""
    if _USAGE_OBJECT.search(event):
        reading = read_usage(event_data(event))
        if reading.usage is not None:
            state.usage = reading.usage
            if hide_usage and reading.usage_only:
                return False
    state.keep(event)
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
                if _whole_events_without_usage(chunk, splitter):
                    # The common case: pass the bytes on as they came.
                    state.keep(chunk)
                    await exchange.write(chunk)
                    continue
                events = splitter.feed(chunk)
                forward = [event for event in events if _pass_event(event, state, hide_usage)]
                if forward:
                    await exchange.write(b"".join(forward) if len(forward) > 1 else forward[0])
            if splitter.remainder().strip():
                await exchange.write(splitter.remainder())
    finally:
        # Whatever ended the stream, charge what the upstream reported or else what was delivered.
        meter.usage = (
            state.usage if state.usage is not None else estimate(state.delivered_payloads())
        )
    await exchange.end()


def _whole_events_without_usage(chunk: bytes, splitter: SseSplitter) -> bool:
    return (
        not splitter.remainder()
        and chunk.endswith(b"\n\n")
        and b"\r" not in chunk
        and _USAGE_OBJECT.search(chunk) is None
    )


class _cancel_on_disconnect:
    """Cancel the relay at once when the client goes away, so the upstream stream is closed.

    The watcher task starts only once a stream has run for `_WATCH_AFTER_S`: most of the
    cost of watching is the task, and a stream that ends sooner costs nothing to abandon."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self._disconnected = False
        self._watcher: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def _start_watching(self, relay: asyncio.Task[object]) -> None:
        self._watcher = asyncio.create_task(self._watch(relay))

    async def _watch(self, relay: asyncio.Task[object]) -> None:
        while (await self._exchange.receive())["type"] != "http.disconnect":
            pass
        self._disconnected = True
        relay.cancel()

    async def __aenter__(self) -> None:
        relay = asyncio.current_task()
        assert relay is not None
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(_WATCH_AFTER_S, self._start_watching, relay)

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._timer is not None
        self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()
        if self._disconnected and exc_type is asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise ClientDisconnected("The client closed the connection mid-stream.")
