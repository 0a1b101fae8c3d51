"""No usage event is lost: 10,000 requests across a graceful restart of a real
`aisonar serve` process are 10,000 recorded events, and 10,000 requests in the rollups."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import aiohttp
import orjson
from sqlalchemy import func, select

from aisonar.store.tables import rollup_dimensions, usage_rollups
from aisonar.testing.gateway_server import free_port
from aisonar.usage.rollups import MINUTE
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
    # And every one is in the rollups, under the provider that answered it.
    async with backend.engine.connect() as conn:
        rolled = list(
            await conn.execute(
                select(rollup_dimensions.c.provider, func.sum(usage_rollups.c.requests))
                .join(rollup_dimensions, rollup_dimensions.c.id == usage_rollups.c.dimensions_id)
                .where(
                    usage_rollups.c.org_id == tenant.org_id,
                    usage_rollups.c.granularity == MINUTE,
                )
                .group_by(rollup_dimensions.c.provider)
            )
        )
    assert [tuple(row) for row in rolled] == [("openai", 2 * REQUESTS_PER_RUN)]
