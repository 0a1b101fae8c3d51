"""Run a real gateway on a loopback port inside the current event loop (tests, benchmarks)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from aisonar.app import create_app
from aisonar.config import Settings
from aisonar.gateway.asgi import GatewayApp
from aisonar.gateway.head_timeout import http_protocol


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RunningGateway:
    def __init__(self, app: GatewayApp, port: int) -> None:
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"


@asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[RunningGateway]:
    """Serve `create_app(settings)` until the block ends, then shut down gracefully."""
    app = create_app(settings)
    port = free_port()
    options: dict[str, Any] = {
        # uvicorn calls it like a protocol class (its annotation names only classes).
        "http": http_protocol(settings),
        "timeout_keep_alive": settings.keep_alive_s,
        # The app reads X-Forwarded-* itself (AISONAR_TRUSTED_PROXIES).
        "proxy_headers": False,
    }
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            access_log=False,
            **options,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield RunningGateway(app, port)
    finally:
        server.should_exit = True
        await task
