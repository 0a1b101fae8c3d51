"""Fresh figures: a request counts in every summary within 5 s of its end, whoever wrote
it, at every grouping, since summaries read hours and days for what compaction covered
and the minutes for the rest; a minute is never counted twice at that boundary; and a
server stopping folds what it wrote into hours and days."""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import openai
from click.testing import CliRunner
from sqlalchemy import func, select

from aisonar.accounts import tokens
from aisonar.analytics.summary import Filters, GroupBy, summarize, window
from aisonar.cli import main
from aisonar.clock import utcnow
from aisonar.store.tables import usage_rollups
from aisonar.testing.gateway_server import free_port
from aisonar.usage.compaction import compact, compacted_through, floor
from aisonar.usage.rollups import DAY, HOUR, MINUTE
from tests.api.people import Api
from tests.support import Backend, Tenant, cli_environment, make_tenant, start_gateway_process
from tests.usage.test_rollups import event, write

LAG_LIMIT_S = 5.0
REQUESTS = 20
# Every grouping a summary offers, over the default window (days) and one of hours.
DIMENSIONS = [by for by in GroupBy if by not in (GroupBy.MINUTE, GroupBy.HOUR, GroupBy.DAY)]
# What a grouping by property is by (requests that carry none are one group).
PROPERTY = "feature"


async def requests_counted(backend: Backend, org_id: str) -> int:
    async with backend.engine.connect() as conn:
        since, until = window(None, None)
        [total] = await summarize(conn, Filters(since, until, org_id=org_id), GroupBy.TOTAL)
    return total.requests


async def ask(url: str, tenant: Tenant) -> None:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key=tenant.secret, max_retries=0)
    async with client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
        )


async def cli(backend: Backend, *arguments: str) -> Any:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        list(arguments),
        env=cli_environment(backend),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@asynccontextmanager
async def gateway_processes(backend: Backend, count: int) -> AsyncIterator[list[str]]:
    """`aisonar serve` in processes of their own, with the default settings; stopped
    gracefully (SIGTERM) at the end."""
    ports = [free_port() for _ in range(count)]
    servers = [await start_gateway_process(backend, port) for port in ports]
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            # uvicorn raises the signal again once it has shut down gracefully.
            assert await server.wait() in (0, -signal.SIGTERM)


async def test_a_request_counts_everywhere_within_five_seconds_of_its_end(
    backend: Backend,
) -> None:
    tenant = await make_tenant(backend.engine)
    async with backend.engine.begin() as conn:
        _, token = await tokens.create_token(conn, tenant.email, name="tests")
    # Two servers writing to one database, each flushing its writer every 0.25 s.
    async with gateway_processes(backend, 2) as urls:
        lags = []
        for index in range(REQUESTS):
            await ask(urls[index % 2], tenant)
            ended = time.monotonic()
            while await requests_counted(backend, tenant.org_id) < index + 1:
                assert time.monotonic() - ended < LAG_LIMIT_S, f"request {index} not counted"
                await asyncio.sleep(0.01)
            lags.append(time.monotonic() - ended)
        by_key = (await Api(urls[0], token).get("/api/analytics/usage?by=key")).body
    print(
        f"\n{backend.name}: lag from a request's end to its summary over {REQUESTS} requests:"
        f" p50 {statistics.median(lags) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
    )
    assert [(row["group"], row["requests"]) for row in by_key] == [(tenant.key_id, REQUESTS)]
    since, until = window(None, None)
    today = floor(utcnow(), DAY)
    async with backend.engine.connect() as conn:
        for by in DIMENSIONS:
            filters = Filters(since, until, org_id=tenant.org_id, property_name=PROPERTY)
            found = await summarize(conn, filters, by)
            assert sum(group.requests for group in found) == REQUESTS, by
        today_only = Filters(today, today + timedelta(days=1), org_id=tenant.org_id)
        for series in (GroupBy.HOUR, GroupBy.MINUTE):
            found = await summarize(conn, today_only, series, limit=1440)
            assert sum(group.requests for group in found) == REQUESTS
    by_model = await cli(
        backend, "usage", "summary", "--org", tenant.org_name, "--by", "model", "--json"
    )
    assert [(row["group"], row["requests"]) for row in by_model] == [("gpt-4o-mini", REQUESTS)]


async def rollup_requests(backend: Backend, org_id: str, granularity: int) -> int:
    async with backend.engine.connect() as conn:
        found = await conn.scalar(
            select(func.sum(usage_rollups.c.requests)).where(
                usage_rollups.c.org_id == org_id,
                usage_rollups.c.granularity == granularity,
                usage_rollups.c.dimensions_id > 0,
            )
        )
    return int(found or 0)


async def test_a_stopped_server_leaves_its_usage_compacted(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    async with gateway_processes(backend, 1) as [url]:
        for _ in range(5):
            await ask(url, tenant)
        stopping = utcnow()
    # Its last run went through the minute it stopped in, after the writer's last flush:
    # its minutes, hours and days all hold what it wrote.
    async with backend.engine.connect() as conn:
        through = await compacted_through(conn)
    assert through is not None and through >= floor(stopping, MINUTE) + timedelta(minutes=1)
    assert await rollup_requests(backend, tenant.org_id, MINUTE) == 5
    assert await rollup_requests(backend, tenant.org_id, HOUR) == 5
    assert await rollup_requests(backend, tenant.org_id, DAY) == 5
    rows = await cli(
        backend, "usage", "summary", "--org", tenant.org_name, "--by", "user", "--json"
    )
    assert [(row["group"], row["requests"]) for row in rows] == [(tenant.user_id, 5)]


async def every_grouping(backend: Backend, org_id: str, since: datetime) -> set[int]:
    """The requests each grouping of the organization's usage adds up to, over two days."""
    filters = Filters(since, since + timedelta(days=2), org_id=org_id, property_name=PROPERTY)
    counted = set()
    async with backend.engine.connect() as conn:
        for by in (*DIMENSIONS, GroupBy.DAY, GroupBy.HOUR, GroupBy.MINUTE):
            counted.add(
                sum(group.requests for group in await summarize(conn, filters, by, limit=3000))
            )
        for granularity in (MINUTE, HOUR):
            [total] = await summarize(conn, filters, GroupBy.TOTAL, granularity=granularity)
            counted.add(total.requests)
    return counted


async def test_a_minute_either_side_of_the_watermark_counts_once(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    org = tenant.org_id
    async with backend.engine.begin() as conn:
        await compact(conn, utcnow())
        through = await compacted_through(conn)
    assert through is not None
    covered, tail = through - timedelta(seconds=30), through + timedelta(seconds=30)
    since = floor(through, DAY) - timedelta(days=1)
    # A minute compaction covered before they were written: the writer adds them to
    # their hour and day; a minute it has not: minutes only, until the next run.
    await write(backend, [event(org, covered) for _ in range(5)])
    await write(backend, [event(org, tail) for _ in range(3)])
    assert await every_grouping(backend, org, since) == {8}
    async with backend.engine.connect() as conn:
        unmoved = await compacted_through(conn) == through
    if unmoved:  # (unless another server's run has moved it past them meanwhile)
        assert await rollup_requests(backend, org, HOUR) == 5
    async with backend.engine.begin() as conn:
        await compact(conn, tail + timedelta(seconds=MINUTE))
    assert await rollup_requests(backend, org, HOUR) == await rollup_requests(backend, org, DAY)
    assert await rollup_requests(backend, org, HOUR) == 8
    assert await every_grouping(backend, org, since) == {8}
    # Runs again replace, never add, and the minutes are still there to read.
    async with backend.engine.begin() as conn:
        await compact(conn, tail + timedelta(seconds=MINUTE))
    await write(backend, [event(org, covered), event(org, tail)])
    assert await every_grouping(backend, org, since) == {10}
    assert await rollup_requests(backend, org, MINUTE) == 10
