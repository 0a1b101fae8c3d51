"""A real HTTP server on loopback that receives webhooks, answering with the statuses it
is told to (200 once they run out), and keeps each request's headers and body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from aisonar.testing.gateway_server import free_port

_WAIT_S = 10.0


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Answered in order to the next requests.
    statuses: list[int] = field(default_factory=list)

    async def wait_for(self, count: int) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + _WAIT_S
        while len(self.received) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} webhooks arrived")
            await asyncio.sleep(0.02)
        return self.received[:count]


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}/hooks")

    async def receive(request: web.Request) -> web.Response:
        receiver.received.append(Received(dict(request.headers), await request.read()))
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        return web.Response(status=status, text="ok" if status == 200 else "not now")

    app = web.Application()
    app.router.add_post("/hooks", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()
