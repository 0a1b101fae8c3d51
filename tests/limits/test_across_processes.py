"""Limits that hold across instances: two gateway processes sharing Redis admit a key's
limit once, not once each, and spend a quota once."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from collections import Counter

import aiohttp
import orjson
import pytest

from aisonar.billing.money import parse_amount
from aisonar.limits.models import LimitChanges, Subject, SubjectKind
from aisonar.limits.services import set_limits
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import free_port
from tests.support import Backend, Tenant, make_tenant, start_gateway_process

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="AISONAR_TEST_REDIS_URL is not set")


def body(*, stream: bool = False) -> bytes:
    content = "one two three four five six seven eight" if stream else "hi"
    return orjson.dumps(
        {
            "model": "gpt-4o-mini",
            "max_tokens": 5,
            "stream": stream,
            "messages": [{"role": "user", "content": content}],
        }
    )


async def post_many(ports: list[int], tenant: Tenant, payload: bytes, count: int) -> Counter[int]:
    headers = {"Authorization": f"Bearer {tenant.secret}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def call(port: int) -> int:
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            async with session.post(url, data=payload) as response:
                await response.read()
                return response.status

        return Counter(await asyncio.gather(*(call(ports[i % 2]) for i in range(count))))


async def two_gateways(backend: Backend) -> tuple[list[int], list[asyncio.subprocess.Process]]:
    ports = [free_port(), free_port()]
    redis = {"AISONAR_REDIS_URL": REDIS_URL or ""}
    return ports, [await start_gateway_process(backend, p, extra_env=redis) for p in ports]


async def stop(servers: list[asyncio.subprocess.Process]) -> None:
    for server in servers:
        server.send_signal(signal.SIGTERM)
    for server in servers:
        await server.wait()


async def test_two_gateways_admit_a_keys_requests_per_minute_once(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    async with backend.engine.begin() as conn:
        await set_limits(conn, Subject(SubjectKind.KEY, tenant.key_id), LimitChanges(rpm=60))
    ports, servers = await two_gateways(backend)
    started = time.monotonic()
    try:
        statuses = await post_many(ports, tenant, body(), 150)
    finally:
        elapsed = time.monotonic() - started
        await stop(servers)
    # 60 at once from a full bucket; the minute refills one a second while they run.
    assert statuses.keys() <= {200, 429}
    assert 60 <= statuses[200] <= 60 + math.ceil(elapsed), (statuses, elapsed)


async def test_two_gateways_share_a_keys_slots_in_flight(
    backend: Backend, fake_upstream: FakeUpstream
) -> None:
    tenant = await make_tenant(backend.engine)
    async with backend.engine.begin() as conn:
        await set_limits(conn, Subject(SubjectKind.KEY, tenant.key_id), LimitChanges(concurrent=3))
    ports, servers = await two_gateways(backend)
    # Each stream lasts about five seconds: all ten are sent while the first three last,
    # even on a busy machine.
    fake_upstream.config.tokens_per_second = 2
    try:
        statuses = await post_many(ports, tenant, body(stream=True), 10)
    finally:
        fake_upstream.config.tokens_per_second = 0
        await stop(servers)
    assert statuses == {200: 3, 429: 7}


async def test_two_gateways_spend_a_users_daily_quota_once(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    async with backend.engine.begin() as conn:
        cap = LimitChanges(daily_spend=parse_amount("0.05"))
        await set_limits(conn, Subject(SubjectKind.USER, tenant.user_id), cap)
    # metered-model charges 0.001 per output token; the fake answers all five asked for,
    # so each request holds and then costs 0.005: ten fit in the quota, in any order.
    payload = orjson.dumps(
        {
            "model": "metered-model",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "one two three four five six seven"}],
        }
    )
    ports, servers = await two_gateways(backend)
    try:
        statuses = await post_many(ports, tenant, payload, 30)
    finally:
        await stop(servers)
    assert statuses == {200: 10, 429: 20}
