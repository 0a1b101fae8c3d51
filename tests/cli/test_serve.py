"""`aisonar serve --workers 2` runs several processes that share the database; the files
`aisonar serve` creates are its user's alone."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from pathlib import Path

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


async def test_the_data_directory_and_its_files_are_the_services_users_alone(
    backend: Backend, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    # A fresh installation in development on SQLite: the database and a generated secret
    # key in the data directory (the shared PostgreSQL database keeps its secret key).
    own = {"AISONAR_DATA_DIR": str(data_dir)}
    if backend.name == "sqlite":
        own |= {"AISONAR_DATABASE_URL": "", "AISONAR_SECRET_KEY": ""}
    umask = os.umask(0o022)  # the usual one, inherited by the server's process
    try:
        server = await start_gateway_process(backend, free_port(), extra_env=own)
    finally:
        os.umask(umask)
    try:
        # While it serves: SQLite's -wal and -shm files exist only while it is open.
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data_dir.iterdir()}
    finally:
        server.send_signal(signal.SIGTERM)
        await server.wait()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    if backend.name == "sqlite":
        private = ("secret.key", "aisonar.db", "aisonar.db-wal", "aisonar.db-shm")
        assert modes == dict.fromkeys(private, 0o600)
