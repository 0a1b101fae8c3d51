"""uvicorn's HTTP protocol (httptools) with a deadline for each request head: a
connection that has not sent a whole request line and headers within
`AISONAR_REQUEST_HEAD_TIMEOUT_S` of opening, or of the first byte of its next request,
is closed. Between requests, uvicorn's keep-alive timer (`AISONAR_KEEP_ALIVE_S`) closes
an idle connection; it stops at the first byte, and uvicorn alone would then wait for the
rest of the head forever, so connections sending a byte now and then (slowloris) would
pile up."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from aisonar.config import Settings


class HeadTimeoutProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        head_timeout_s: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_timeout_s = head_timeout_s
        self._head_deadline: asyncio.TimerHandle | None = None
        self._idle = False

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._head_arrived()
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        if self._idle:
            self._idle = False
            self._await_head()
        super().data_received(data)

    def on_response_complete(self) -> None:
        # A pipelined request whose head came already starts now; else the connection
        # idles under uvicorn's keep-alive timer until the next request's first byte.
        self._idle = not self.pipeline
        super().on_response_complete()

    def _await_head(self) -> None:
        self._head_arrived()
        self._head_deadline = self.loop.call_later(self._head_timeout_s, self._head_late)

    def _head_arrived(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_late(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def http_protocol(settings: Settings) -> partial[HeadTimeoutProtocol]:
    """What to give uvicorn as its `http`: it calls it for each connection, with the
    arguments a protocol class takes (a partial, so that the setting goes along into the
    processes of `--workers`). uvicorn's own `timeout_keep_alive` is `keep_alive_s`."""
    return partial(HeadTimeoutProtocol, head_timeout_s=settings.request_head_timeout_s)
