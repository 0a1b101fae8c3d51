"""The floor for the gateway benchmark: the thinnest possible pass-through on the same
stack (uvicorn + uvloop + httptools, one pooled aiohttp client), with no auth, routing or
metering. `bench/proxy.py` runs it before the gateway, so the gateway's figures can
be read against what this machine allows at all.

    python bench/bare_proxy.py PORT UPSTREAM_URL
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def build(upstream: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    sessions: list[aiohttp.ClientSession] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            sessions.append(aiohttp.ClientSession(auto_decompress=False))
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await sessions[0].close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        prefix = "/sse" if b'"stream": true' in body else "/json"
        async with sessions[0].post(upstream + prefix + scope["path"], data=body) as response:
            content_type = response.headers.get("Content-Type", "application/json").encode()
            headers = [(b"content-type", content_type)]
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


if __name__ == "__main__":
    uvicorn.run(
        build(sys.argv[2]),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
