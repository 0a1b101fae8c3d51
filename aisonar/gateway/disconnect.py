"""Cancel the work on a request at once when its client goes away, so that the upstream
request is closed too and stops costing money."""

from __future__ import annotations

import asyncio

from aisonar.gateway.errors import ClientDisconnected
from aisonar.gateway.http import Exchange

_WATCH_AFTER_S = 0.05


class cancel_on_disconnect:
    """Cancel the enclosed work when the client disconnects; raise ClientDisconnected.

    The watcher task starts only once the work has run for `_WATCH_AFTER_S`: most of the
    cost of watching is the task, and work that ends sooner costs nothing to abandon."""

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
        # A server reports a finished response as a disconnect too.
        if not self._exchange.response_ended:
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
            raise ClientDisconnected("The client went away before the answer was complete.")
