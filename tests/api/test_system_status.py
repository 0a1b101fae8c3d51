"""The operators' system status: over HTTP, the answering server's version, uptime,
database, Redis, writer queues and channels by state, for operators only; on the
command line (`aisonar status`), the database and Redis without a server."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from aisonar.cli import main
from aisonar.store.migrate import alembic_config
from aisonar.store.tables import channels
from aisonar.testing.gateway_server import RunningGateway, free_port
from tests.api.deletions import eventually
from tests.api.people import Api, make_operator, make_org
from tests.support import Backend, cli_environment

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _channel_counts(backend: Backend) -> tuple[int, int]:
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(channels.c.enabled, func.count()).group_by(channels.c.enabled)
        )
        counted = {bool(enabled): count for enabled, count in rows}
    return counted.get(True, 0), counted.get(False, 0)


async def test_operators_see_how_the_server_stands(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    health = gateway.app.runtime.services.channels.health
    channel_id = next(iter(gateway.app.runtime.services.channels.channels))
    health.record_failure(channel_id, "test outage", retry_after_s=60)

    async def flushed() -> bool:
        return (await operator.get("/api/system/status")).body["usage_writer"][
            "last_flush_at"
        ] is not None

    await eventually(flushed)
    answer = await operator.get("/api/system/status")
    assert answer.status == 200
    status: dict[str, Any] = answer.body
    assert status["version"] == version("aisonar")
    assert status["uptime_s"] > 0
    started = datetime.fromisoformat(status["started_at"])
    assert started <= datetime.fromisoformat(status["usage_writer"]["last_flush_at"])
    database = status["database"]
    assert database["dialect"] == backend.engine.dialect.name and database["reachable"] is True
    assert database["latency_ms"] >= 0 and database["error"] is None
    assert database["revision"] == database["head"] == HEAD and database["up_to_date"] is True
    assert status["redis"] == {
        "configured": False,
        "reachable": None,
        "latency_ms": None,
        "error": None,
    }
    writer = status["usage_writer"]
    assert writer["queue_depth"] >= 0 and writer["dropped"] == 0
    assert status["ledger_writer"]["queue_depth"] >= 0
    enabled, disabled = await _channel_counts(backend)
    by_state = status["channels"]["by_state"]
    assert set(by_state) == {"healthy", "on_trial", "cooling_down"}
    assert by_state["cooling_down"] == 1 and sum(by_state.values()) == enabled
    assert status["channels"]["disabled"] == disabled

    org = await make_org(backend.engine)
    for person in (org.member, org.admin):
        refused = await Api(gateway.url, person.token).get("/api/system/status")
        assert refused.status == 403
    assert (await Api(gateway.url, None).get("/api/system/status")).status == 401


async def _aisonar(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke, main, ["status", *args], env=env, catch_exceptions=False
    )


async def test_the_command_line_reports_the_database_and_redis(
    backend: Backend, tmp_path: Path
) -> None:
    env = cli_environment(backend)
    result = await _aisonar(env, "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["version"] == version("aisonar")
    assert found["database"]["reachable"] is True and found["database"]["revision"] == HEAD
    assert found["redis"]["configured"] is False
    plain = (await _aisonar(env)).output
    assert f"database.head: {HEAD}" in plain and "database.up_to_date: True" in plain

    # A Redis that does not answer, and a database never migrated: exit 1, saying why.
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    fresh = {
        **env,
        "AISONAR_DATABASE_URL": "",
        "AISONAR_DATA_DIR": str(tmp_path),
        "AISONAR_REDIS_URL": unreachable,
    }
    result = await _aisonar(fresh, "--json")
    assert result.exit_code == 1
    found = json.loads(result.output)
    assert found["database"]["reachable"] is True and found["database"]["revision"] is None
    assert found["database"]["up_to_date"] is False
    assert found["redis"]["reachable"] is False and found["redis"]["error"]


@pytest.mark.skipif(not REDIS_URL, reason="AISONAR_TEST_REDIS_URL is not set")
async def test_the_command_line_reaches_a_configured_redis(backend: Backend) -> None:
    assert REDIS_URL
    result = await _aisonar({**cli_environment(backend), "AISONAR_REDIS_URL": REDIS_URL}, "--json")
    assert result.exit_code == 0, result.output
    redis = json.loads(result.output)["redis"]
    assert redis["reachable"] is True and redis["latency_ms"] >= 0
