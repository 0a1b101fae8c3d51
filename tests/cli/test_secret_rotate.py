"""`aisonar secret rotate` re-seals every sealed secret under the new AISONAR_SECRET_KEY
while a server, given the new key and the previous one, keeps answering through the
rotated channel; nothing is in clear in the database or the command's output; a second
run re-seals nothing, one cut short resumes, and afterwards the new key alone serves.

Each test has a database of its own: the shared one's secrets stay under the test key."""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.channels import services as channels
from aisonar.cli import main
from aisonar.config import Settings
from aisonar.crypto import SecretBox, SecretBoxError
from aisonar.notify import services as notify
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.store.resealing import reseal_column
from aisonar.store.tables import channels as channels_table
from aisonar.store.tables import webhook_endpoints
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import free_port
from tests.conftest import UPSTREAM_KEY
from tests.support import Backend, cli_environment, make_tenant, read_files_elsewhere
from tests.workers import database_of_its_own

OLD_KEY = "old-secret-key-" + secrets.token_hex(16)
NEW_KEY = "new-secret-key-" + secrets.token_hex(16)


@asynccontextmanager
async def own_database(backend: Backend, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """The environment of an empty, migrated database of this test's own."""
    data_dir = tmp_path / "data"
    url = ""
    if backend.name == "postgresql":
        url = await database_of_its_own(backend.settings.database_url, "rotation")
    settings = Settings(data_dir=data_dir, database_url=url)
    settings.make_data_dir()
    engine = create_engine(settings.resolved_database_url)
    try:
        if url:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    yield {
        **cli_environment(backend),
        "AISONAR_DATA_DIR": str(data_dir),
        "AISONAR_DATABASE_URL": url,
        "AISONAR_LOG_LEVEL": "warning",
    }


def engine_of(env: dict[str, str]) -> AsyncEngine:
    settings = Settings(
        data_dir=Path(env["AISONAR_DATA_DIR"]), database_url=env["AISONAR_DATABASE_URL"]
    )
    return create_engine(settings.resolved_database_url)


async def aisonar(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """The `aisonar` command in a process of its own: exit status, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aisonar",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def serve(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    """`aisonar serve`, returned once it answers /readyz."""
    import aiohttp

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aisonar", "serve", "--port", str(port), env=env
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(1200):
            assert process.returncode is None, "the gateway exited"
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("the gateway did not start")


async def stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    await process.wait()


async def ask(client: openai.AsyncOpenAI) -> str:
    reply = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "rotation"}]
    )
    return reply.choices[0].message.content or ""


async def stored_text(engine: AsyncEngine) -> str:
    """Every row of the tables a secret or its change could reach, as text."""
    async with engine.connect() as conn:
        rows: list[Any] = []
        for table in ("channels", "webhook_endpoints", "audit_log", "change_log"):
            rows += (await conn.execute(text(f"SELECT * FROM {table}"))).all()
    return repr(rows)


async def test_rotation_while_a_server_serves_through_the_rotated_channel(
    backend: Backend, tmp_path: Path, fake_upstream: FakeUpstream
) -> None:
    async with own_database(backend, tmp_path) as env:
        engine = engine_of(env)
        old = SecretBox(OLD_KEY)
        async with engine.begin() as conn:
            await channels.create_channel(
                conn,
                old,
                name="rotated",
                provider="openai",
                base_url=fake_upstream.url,
                api_key=UPSTREAM_KEY,
                models="gpt-4o-mini",
            )
        tenant = await make_tenant(engine)
        async with engine.begin() as conn:
            _, signing_secret = await notify.create_endpoint(
                conn, old, tenant.org_id, "https://hooks.example.com/sonar"
            )

        during = {**env, "AISONAR_SECRET_KEY": NEW_KEY, "AISONAR_SECRET_KEY_PREVIOUS": OLD_KEY}
        port = free_port()
        server = await serve(during, port)
        client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=tenant.secret)
        answers: list[str] = []
        stopping, answered = asyncio.Event(), asyncio.Event()

        async def load() -> None:
            while not stopping.is_set():
                answers.append(await ask(client))
                answered.set()

        async def served(count: int) -> None:
            while len(answers) < count:
                answered.clear()
                await answered.wait()

        loading = asyncio.create_task(load())
        try:
            await served(5)
            status, printed, said = await aisonar(during, "secret", "rotate", "--json")
            assert status == 0, said
            done = orjson.loads(printed)
            assert done == {"channels_resealed": 1, "webhooks_resealed": 1, "already_current": 0}
            # Idempotent: a second run finds every secret under the new key.
            again_status, again, _ = await aisonar(during, "secret", "rotate", "--json")
            assert again_status == 0
            assert orjson.loads(again) == {
                "channels_resealed": 0,
                "webhooks_resealed": 0,
                "already_current": 2,
            }
            await served(len(answers) + 5)
        finally:
            stopping.set()
            await loading
            await stop(server)
        assert all(answer.startswith("Echo:") for answer in answers)
        for shown in (printed, said, again):
            assert UPSTREAM_KEY not in shown and signing_secret not in shown

        async with engine.connect() as conn:
            sealed_key = (
                await conn.execute(select(channels_table.c.api_key_encrypted))
            ).scalar_one()
            sealed_signing = (await conn.execute(select(webhook_endpoints.c.secret))).scalar_one()
        assert SecretBox(NEW_KEY).open(sealed_key) == UPSTREAM_KEY
        assert SecretBox(NEW_KEY).open(sealed_signing) == signing_secret
        for sealed in (sealed_key, sealed_signing):
            with pytest.raises(SecretBoxError):
                old.open(sealed)
        # Nothing in clear: not in the rows, nor (SQLite) anywhere in the database's files.
        stored = await stored_text(engine)
        assert UPSTREAM_KEY not in stored and signing_secret not in stored
        if backend.name == "sqlite":
            database = Path(env["AISONAR_DATA_DIR"])
            files = await asyncio.to_thread(lambda: [str(f) for f in database.glob("aisonar.db*")])
            raw = read_files_elsewhere(files)
            assert UPSTREAM_KEY.encode() not in raw and signing_secret.encode() not in raw

        # The rotation finished: the new key alone serves.
        after = {**env, "AISONAR_SECRET_KEY": NEW_KEY}
        server = await serve(after, port)
        try:
            assert (await ask(client)).startswith("Echo:")
        finally:
            await stop(server)
            await engine.dispose()


class CutShort(Exception):
    """The rotation's process stopped in the middle (a kill, a lost connection)."""


async def test_a_rotation_cut_short_resumes_where_it_stopped(
    backend: Backend, tmp_path: Path
) -> None:
    async with own_database(backend, tmp_path) as env:
        engine = engine_of(env)
        old = SecretBox(OLD_KEY)
        async with engine.begin() as conn:
            for number in range(5):
                await channels.create_channel(
                    conn,
                    old,
                    name=f"rotated-{number}",
                    provider="openai",
                    base_url="http://127.0.0.1:9/v1",
                    api_key=f"sk-upstream-{number}",
                    models=f"model-{number}",
                )
        box = SecretBox(NEW_KEY, OLD_KEY)
        calls = 0

        def reseal_until_cut(token: str) -> str | None:
            nonlocal calls
            calls += 1
            if calls == 4:  # in the second batch of two
                raise CutShort
            return box.reseal(token)

        key, sealed = channels_table.c.id, channels_table.c.api_key_encrypted
        with pytest.raises(CutShort):
            await reseal_column(engine, key, sealed, reseal_until_cut, batch_size=2)
        # The first batch was committed, the second not; the run again does the rest.
        resumed = await reseal_column(engine, key, sealed, box.reseal, batch_size=2)
        assert (resumed.resealed, resumed.current) == (3, 2)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(channels_table.c.name, sealed))).all()
        assert {SecretBox(NEW_KEY).open(token) for _, token in rows} == {
            f"sk-upstream-{number}" for number in range(5)
        }
        await engine.dispose()


async def test_a_secret_neither_key_opens_stops_the_rotation_with_its_row(
    backend: Backend, tmp_path: Path
) -> None:
    async with own_database(backend, tmp_path) as env:
        engine = engine_of(env)
        async with engine.begin() as conn:
            stray = await channels.create_channel(
                conn,
                SecretBox("another-key-" + secrets.token_hex(16)),
                name="stray",
                provider="openai",
                base_url="http://127.0.0.1:9/v1",
                api_key="sk-stray",
                models="stray-model",
            )
        await engine.dispose()
        during = {**env, "AISONAR_SECRET_KEY": NEW_KEY, "AISONAR_SECRET_KEY_PREVIOUS": OLD_KEY}
        result = await asyncio.to_thread(CliRunner().invoke, main, ["secret", "rotate"], env=during)
        assert result.exit_code == 1
        assert f"channels {stray.id}" in result.output
        assert "neither AISONAR_SECRET_KEY nor AISONAR_SECRET_KEY_PREVIOUS" in result.output


async def test_a_secret_changed_during_the_rotation_is_read_again_not_overwritten(
    backend: Backend, tmp_path: Path
) -> None:
    async with own_database(backend, tmp_path) as env:
        engine = engine_of(env)
        async with engine.begin() as conn:
            channel = await channels.create_channel(
                conn,
                SecretBox(OLD_KEY),
                name="changed",
                provider="openai",
                base_url="http://127.0.0.1:9/v1",
                api_key="sk-before",
                models="changed-model",
            )
        key, sealed = channels_table.c.id, channels_table.c.api_key_encrypted
        box = SecretBox(NEW_KEY, OLD_KEY)

        async def operator_changes_the_key() -> None:
            # A server given both keys seals the operator's new key under the new one.
            other = engine_of(env)
            async with other.begin() as conn:
                await conn.execute(
                    channels_table.update()
                    .where(key == channel.id)
                    .values(api_key_encrypted=box.seal("sk-after"))
                )
            await other.dispose()

        calls: list[str] = []

        def reseal_while_changed(token: str) -> str | None:
            calls.append(token)
            if len(calls) == 1:  # between the rotation's read and its write
                changing = threading.Thread(target=asyncio.run, args=(operator_changes_the_key(),))
                changing.start()
                changing.join()
            return box.reseal(token)

        done = await reseal_column(engine, key, sealed, reseal_while_changed)
        assert (done.resealed, done.current) == (0, 1)
        assert len(calls) == 2  # the old token, then the operator's, read again
        async with engine.connect() as conn:
            token = (await conn.execute(select(sealed).where(key == channel.id))).scalar_one()
        assert SecretBox(NEW_KEY).open(token) == "sk-after"
        await engine.dispose()
