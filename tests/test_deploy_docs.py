"""docs/deploy.md as written: its backup and restore blocks run on PostgreSQL and bring
back the ledger, the balance it sums to and a channel's sealed secret; every `aisonar` command it
shows is one the CLI takes, with options it has. (Its docker and nginx lines configure
the files tests/test_deploy.py checks; there is no container runtime to run them.)"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from aisonar.billing.ledger import durable_balance, ledger_sum
from aisonar.channels import services as channels
from aisonar.cli import main
from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from tests.conftest import POSTGRES_URL, TEST_SECRET_KEY, UPSTREAM_KEY
from tests.support import make_tenant
from tests.workers import database_of_its_own

PAGE = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"


def shell_blocks() -> list[str]:
    return re.findall(r"^ *```sh\n(.*?)^ *```", PAGE.read_text(), flags=re.DOTALL | re.M)


def block_with(word: str) -> str:
    (found,) = [block for block in shell_blocks() if word in block]
    return found


def aisonar_commands() -> list[list[str]]:
    """Each `aisonar ...` line of the page's shell blocks, as words (after any variable
    assignments before it)."""
    commands = []
    for block in shell_blocks():
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"\w+=.*", words[0]):
                words = words[1:]
            if words and words[0] == "aisonar":
                commands.append(words)
    return commands


def test_every_aisonar_command_on_the_page_is_one_the_cli_takes() -> None:
    commands = aisonar_commands()
    assert {" ".join(words[:3]) for words in commands} >= {
        "aisonar secret rotate",
        "aisonar migrate",
        "aisonar status",
        "aisonar serve --host",
    }
    for words in commands:
        found: click.Command = main
        rest = words[1:]
        while isinstance(found, click.Group):
            name, *rest = rest
            found = found.commands[name]
        known = {option for param in found.params for option in param.opts}
        assert {word for word in rest if word.startswith("--")} <= known, words


def plain_url(database: str) -> str:
    assert POSTGRES_URL
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


async def fresh_database(suffix: str) -> str:
    """An empty database `<test database>_<suffix>`, made anew."""
    assert POSTGRES_URL
    url = await database_of_its_own(POSTGRES_URL, suffix)
    engine = create_engine(Settings(database_url=url).resolved_database_url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return url


async def run_block(block: str, cwd: Path, env: dict[str, str]) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.postgresql
async def test_the_backup_and_restore_blocks_bring_the_money_and_secrets_back(
    tmp_path: Path,
) -> None:
    source_url = await fresh_database("backup")
    restore_url = await fresh_database("restored")
    source = create_engine(Settings(database_url=source_url).resolved_database_url)
    await upgrade_to_head(source)
    tenant = await make_tenant(source, balance="123.45")
    async with source.begin() as conn:
        await channels.create_channel(
            conn,
            SecretBox(TEST_SECRET_KEY),
            name="backed-up",
            provider="openai",
            base_url="http://127.0.0.1:9/v1",
            api_key=UPSTREAM_KEY,
            models="backed-up-model",
        )
        balance = await durable_balance(conn, tenant.org_id)
        assert await ledger_sum(conn, tenant.org_id) == balance.balance
    await source.dispose()

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DATABASE_URL": source_url,
        "RESTORE_URL": restore_url,
        "AISONAR_SECRET_KEY": TEST_SECRET_KEY,
        "AISONAR_DATA_DIR": str(tmp_path / "data"),
        "AISONAR_REDIS_URL": "",
    }
    await run_block(block_with("pg_dump"), tmp_path, env)
    await run_block(block_with("pg_restore"), tmp_path, env)

    restored = create_engine(Settings(database_url=restore_url).resolved_database_url)
    async with restored.connect() as conn:
        assert await durable_balance(conn, tenant.org_id) == balance
        assert await ledger_sum(conn, tenant.org_id) == balance.balance == 123_450_000
        channel = await channels.get_channel(conn, SecretBox(TEST_SECRET_KEY), "backed-up")
        assert channel.api_key == UPSTREAM_KEY
    await restored.dispose()
