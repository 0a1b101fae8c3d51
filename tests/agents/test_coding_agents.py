"""Claude Code and the Codex CLI, installed from npm at pinned versions, run with their
default settings against the demo (`aisonar demo`, its fake upstream behind it) on an
OpenAI, an Anthropic and a Gemini model: each gets an answer, and every request it made
is a charged usage event."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.store.engine import create_engine
from aisonar.store.tables import usage_events
from tests.cli.demo_process import RunningDemo, running_demo
from tests.node_clients import node_clients

MODELS = ["gpt-4o-mini", "claude-sonnet-4-6", "gemini-2.5-flash"]
# No agent reaches anything but the gateway here: their telemetry and updates stay off.
QUIET = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}


@pytest.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[RunningDemo, Path]]:
    data_dir = tmp_path_factory.mktemp("agents-demo")
    async with running_demo(data_dir) as running:
        yield running, data_dir


async def run_agent(command: list[str], env: dict[str, str], cwd: Path) -> str:
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=cwd, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def generations(data_dir: Path, endpoint: str, model: str, since: datetime) -> list[Any]:
    """The demo's usage events of one agent run, once its last batch is written."""
    engine = create_engine(Settings(data_dir=data_dir, database_url="").resolved_database_url)
    query = select(usage_events).where(
        usage_events.c.endpoint == endpoint,
        usage_events.c.requested_model == model,
        usage_events.c.started_at >= since,
    )
    try:
        for _ in range(100):
            async with engine.connect() as conn:
                rows = list(await conn.execute(query))
            if rows:
                await asyncio.sleep(1.5)  # the writer's batch after the last request's
                async with engine.connect() as conn:
                    return list(await conn.execute(query))
            await asyncio.sleep(0.1)
        return []
    finally:
        await engine.dispose()


def assert_all_charged(events: list[Any]) -> None:
    outcomes = [(e.requested_model, e.status_code, e.error_message, e.cost) for e in events]
    assert events and all(e.status_code == 200 and e.cost > 0 for e in events), outcomes


@pytest.mark.parametrize("model", MODELS)
async def test_claude_code_answers_on_every_model(
    demo: tuple[RunningDemo, Path], tmp_path: Path, model: str
) -> None:
    running, data_dir = demo
    claude = node_clients() / "claude"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{running.port}",
        "ANTHROPIC_API_KEY": running.key,
        **QUIET,
    }
    since = utcnow()
    answer = await run_agent([str(claude), "-p", "say hello", "--model", model], env, tmp_path)
    assert answer.strip()
    assert_all_charged(await generations(data_dir, "/v1/messages", model, since))


@pytest.mark.parametrize("model", MODELS)
async def test_codex_answers_on_every_model(
    demo: tuple[RunningDemo, Path], tmp_path: Path, model: str
) -> None:
    running, data_dir = demo
    codex = node_clients() / "codex"
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(f'openai_base_url = "http://127.0.0.1:{running.port}/v1"\n')
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "CODEX_API_KEY": running.key,
    }
    command = [str(codex), "exec", "--skip-git-repo-check", "-m", model, "say hello"]
    since = utcnow()
    answer = await run_agent(command, env, tmp_path)
    assert answer.strip()
    assert_all_charged(await generations(data_dir, "/v1/responses", model, since))
