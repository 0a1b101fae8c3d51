"""No usage event is lost: 10,000 requests across a graceful restart of a real
`aisonar serve` process are 10,000 recorded events."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import aiohttp
import orjson

from aisonar.testing.gateway_server import free_port
from tests.support import Backend, make_tenant, start_gateway_process, usage_count

REQUESTS_PER_RUN = 5_000
CONCURRENCY = 64
BODY = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})


async def drive(port: int, secret: str, count: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one() -> None:
            async with session.post(url, data=BODY) as response:
                await response.read()
                statuses[response.status] += 1

        await asyncio.gather(*(one() for _ in range(count)))
    return statuses


async def test_ten_thousand_requests_and_a_restart_lose_no_event(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    port = free_port()
    total: Counter[int] = Counter()
    for _ in range(2):
        server = await start_gateway_process(backend, port)
        try:
            total += await drive(port, tenant.secret, REQUESTS_PER_RUN)
        finally:
            server.send_signal(signal.SIGTERM)
            # uvicorn re-raises the signal once its graceful shutdown is complete.
            assert await server.wait() in (0, -signal.SIGTERM)
    assert total == {200: 2 * REQUESTS_PER_RUN}
    assert await usage_count(backend.engine, tenant.org_id) == 2 * REQUESTS_PER_RUN
