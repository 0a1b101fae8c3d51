"""`aisonar serve --workers 2` runs several processes that share the database."""

from __future__ import annotations

import asyncio
import os
import signal

import aiohttp
import orjson
import pytest
from click.testing import CliRunner

from aisonar.cli import main
from aisonar.testing.gateway_server import free_port
from tests.support import (
    Backend,
    cli_environment,
    make_tenant,
    start_gateway_process,
    usage_count,
    wait_for_usage,
)

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
BODY = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})


def test_several_workers_need_redis(backend: Backend) -> None:
    env = {**cli_environment(backend), "AISONAR_REDIS_URL": ""}
    result = CliRunner().invoke(main, ["serve", "--workers", "2"], env=env)
    assert result.exit_code != 0 and "AISONAR_REDIS_URL" in result.output


@pytest.mark.skipif(not REDIS_URL, reason="AISONAR_TEST_REDIS_URL is not set")
async def test_two_workers_serve_and_meter(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    port = free_port()
    server = await start_gateway_process(
        backend, port, workers=2, extra_env={"AISONAR_REDIS_URL": REDIS_URL or ""}
    )
    headers = {"Authorization": f"Bearer {tenant.secret}"}
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(headers=headers) as session:

            async def call() -> int:
                async with session.post(url + "/v1/chat/completions", data=BODY) as response:
                    return response.status

            statuses = await asyncio.gather(*(call() for _ in range(40)))
        assert set(statuses) == {200}
        await wait_for_usage(backend.engine, tenant.org_id, 40)
    finally:
        server.send_signal(signal.SIGTERM)
        await server.wait()
    assert await usage_count(backend.engine, tenant.org_id) == 40
