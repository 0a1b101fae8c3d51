"""Spend quotas count what the gateway charged, never what applications report: usage
ingested through `POST /api/ingest/events` or `POST /v1/traces` is priced for analytics
only, so a key that can only report cannot exhaust a user's or an organization's quota,
not even once a restarted gateway (or a Redis that lost its data) reloads the counters
from the database. And ingestion touches neither the balance nor the ledger."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime

import aiohttp
import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from aisonar.billing.money import parse_amount
from aisonar.limits.models import LimitChanges, Subject, SubjectKind
from aisonar.limits.services import set_limits
from aisonar.store.tables import ledger_entries, usage_events
from aisonar.testing.gateway_server import free_port
from tests.ingest.test_events import ingest_key, post_events, reported
from tests.ingest.test_otlp import CHAT, export, post_json, span
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    make_tenant,
    start_gateway_process,
    wait_for_usage,
)

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
DAILY_CAP = parse_amount("0.05")
MONTHLY_ORG_CAP = parse_amount("1.00")
# metered-model charges 0.001 per output token and the fake answers all five asked for:
# each request holds and costs 0.005, so ten fit in the user's daily cap.
REQUEST = orjson.dumps(
    {
        "model": "metered-model",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "one two three four five six seven"}],
    }
)


@pytest.fixture(params=["memory", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    if not REDIS_URL:
        pytest.skip("AISONAR_TEST_REDIS_URL is not set")
    return REDIS_URL


async def call_model(port: int, tenant: Tenant) -> tuple[int, str | None]:
    headers = {"Authorization": f"Bearer {tenant.secret}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(f"http://127.0.0.1:{port}/v1/chat/completions", data=REQUEST) as response,
    ):
        body = await response.json()
        return response.status, None if response.status == 200 else body["error"]["code"]


async def report_big_costs(port: int, backend: Backend, tenant: Tenant) -> int:
    """A large cost through each way in, with a key that may only report; returns it."""
    secret = await ingest_key(backend, tenant.email)
    url = f"http://127.0.0.1:{port}"
    now = datetime.now(UTC).replace(microsecond=0)
    event = reported(
        "big", input_tokens=100_000_000, cached_input_tokens=0, timestamp=now.isoformat()
    )
    assert (await post_events(url, secret, {"events": [event]}))[0] == 202
    started = time.time_ns() - 10**9
    traced = span("chat", CHAT | {"gen_ai.usage.input_tokens": 50_000_000}) | {
        "startTimeUnixNano": str(started),
        "endTimeUnixNano": str(started + 10**8),
    }
    assert (await post_json(url, secret, export(traced)))[0] == 200
    await wait_for_usage(backend.engine, tenant.org_id, 2)
    async with backend.engine.connect() as conn:
        query = select(func.sum(usage_events.c.cost)).where(
            usage_events.c.org_id == tenant.org_id, usage_events.c.user_id == tenant.user_id
        )
        return int((await conn.execute(query)).scalar_one())


async def ledger_ids(backend: Backend, tenant: Tenant) -> list[int]:
    async with backend.engine.connect() as conn:
        query = select(ledger_entries.c.id).where(ledger_entries.c.org_id == tenant.org_id)
        return list((await conn.execute(query)).scalars())


async def forget_counters(url: str, tenant: Tenant) -> None:
    """What Redis losing its data does to the tenant's spend counters."""
    redis = Redis.from_url(url)
    try:
        for subject in (tenant.user_id, tenant.org_id):
            async for key in redis.scan_iter(match=f"aisonar:spend:*:{subject}:*"):
                await redis.delete(key)
    finally:
        await redis.aclose()


async def stop(server: asyncio.subprocess.Process) -> None:
    server.send_signal(signal.SIGTERM)
    await server.wait()


async def test_reported_usage_never_counts_as_spend_across_a_restart(
    backend: Backend, redis_url: str | None
) -> None:
    tenant = await make_tenant(backend.engine)
    async with backend.engine.begin() as conn:
        daily = LimitChanges(daily_spend=DAILY_CAP)
        await set_limits(conn, Subject(SubjectKind.USER, tenant.user_id), daily)
        monthly = LimitChanges(monthly_spend=MONTHLY_ORG_CAP)
        await set_limits(conn, Subject(SubjectKind.ORG, tenant.org_id), monthly)
    env = {"AISONAR_REDIS_URL": redis_url} if redis_url else {}
    balance = await assert_ledger_invariant(backend.engine, tenant.org_id)
    entries = await ledger_ids(backend, tenant)

    port = free_port()
    server = await start_gateway_process(backend, port, extra_env=env)
    try:
        reported_cost = await report_big_costs(port, backend, tenant)
        # Far beyond both quotas, and charged to no one.
        assert reported_cost > MONTHLY_ORG_CAP
        assert await ledger_ids(backend, tenant) == entries
        assert await assert_ledger_invariant(backend.engine, tenant.org_id) == balance
        # The counters load now, for the first time this period: ingested costs stay out.
        assert [await call_model(port, tenant) for _ in range(4)] == [(200, None)] * 4
    finally:
        await stop(server)
    await wait_for_usage(backend.engine, tenant.org_id, 2 + 4)

    if redis_url:
        await forget_counters(redis_url, tenant)
    server = await start_gateway_process(backend, port, extra_env=env)
    try:
        # Reloaded from the database: the four charged requests count, the reports do not.
        statuses = [await call_model(port, tenant) for _ in range(7)]
    finally:
        await stop(server)
    assert statuses == [(200, None)] * 6 + [(429, "insufficient_quota")]
