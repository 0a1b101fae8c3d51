"""Claude Code and the Codex CLI, installed from npm at pinned versions, run with their
default settings against the gateway on an OpenAI, an Anthropic and a Gemini model: each
gets an answer, and every request it made is a charged usage event."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aisonar.store.tables import usage_events
from aisonar.testing.gateway_server import free_port
from tests.node_clients import node_clients
from tests.support import Backend, Tenant, make_tenant, start_gateway_process, wait_for_usage

MODELS = ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"]
# No agent reaches anything but the gateway here: their telemetry and updates stay off.
QUIET = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}


async def run_agent(command: list[str], env: dict[str, str], cwd: Path) -> str:
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def generations(backend: Backend, tenant: Tenant, endpoint: str) -> list[Any]:
    """The tenant's usage events on `endpoint`, once the agent's last one is written."""
    await wait_for_usage(backend.engine, tenant.org_id, 1)
    await asyncio.sleep(0.5)  # the writer's batch after the last request's
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(usage_events).where(
                usage_events.c.org_id == tenant.org_id, usage_events.c.endpoint == endpoint
            )
        )
        return list(rows)


async def assert_all_charged(events: list[Any]) -> None:
    outcomes = [(e.requested_model, e.status_code, e.error_message, e.cost) for e in events]
    assert events and all(e.status_code == 200 and e.cost > 0 for e in events), outcomes


@pytest.fixture(scope="module")
async def agent_gateway(backend: Backend) -> AsyncIterator[str]:
    """A gateway process with the default upstream timeouts: an agent's first request
    carries a long system prompt and two dozen tools, past the test gateway's 3 s."""
    port = free_port()
    server = await start_gateway_process(backend, port)
    yield f"http://127.0.0.1:{port}"
    server.send_signal(signal.SIGTERM)
    await server.wait()


@pytest.fixture
async def agent_tenant(backend: Backend) -> Tenant:
    return await make_tenant(backend.engine, balance="50")


@pytest.mark.parametrize("model", MODELS)
async def test_claude_code_answers_on_every_model(
    agent_gateway: str, backend: Backend, agent_tenant: Tenant, tmp_path: Path, model: str
) -> None:
    claude = node_clients() / "claude"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ANTHROPIC_BASE_URL": agent_gateway,
        "ANTHROPIC_API_KEY": agent_tenant.secret,
        **QUIET,
    }
    answer = await run_agent([str(claude), "-p", "say hello", "--model", model], env, tmp_path)
    assert answer.strip()
    await assert_all_charged(await generations(backend, agent_tenant, "/v1/messages"))


@pytest.mark.parametrize("model", MODELS)
async def test_codex_answers_on_every_model(
    agent_gateway: str, backend: Backend, agent_tenant: Tenant, tmp_path: Path, model: str
) -> None:
    codex = node_clients() / "codex"
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(f'openai_base_url = "{agent_gateway}/v1"\n')
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "CODEX_API_KEY": agent_tenant.secret,
    }
    command = [str(codex), "exec", "--skip-git-repo-check", "-m", model, "say hello"]
    answer = await run_agent(command, env, tmp_path)
    assert answer.strip()
    await assert_all_charged(await generations(backend, agent_tenant, "/v1/responses"))
