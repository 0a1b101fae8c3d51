"""Prompts and responses are never written: a marker sent through every path is found
nowhere on disk, in the database or in the logs."""

from __future__ import annotations

import logging
import secrets

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from sqlalchemy import text

from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, read_files_elsewhere, wait_for_usage


async def database_text(backend: Backend) -> bytes:
    """Every byte of the database's files: SQLite's database and write-ahead log, or the
    files of PostgreSQL's database (tables, their indexes and TOAST, after a checkpoint
    has written every changed page), read through the server as its superuser."""
    if backend.name == "sqlite":
        files = [str(p) for p in backend.settings.data_dir.rglob("*") if p.is_file()]
        return read_files_elsewhere(files)
    async with backend.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("CHECKPOINT")
        folder = (
            await conn.execute(
                text("SELECT 'base/' || oid FROM pg_database WHERE datname = current_database()")
            )
        ).scalar_one()
        names = await conn.execute(text("SELECT pg_ls_dir(:folder)"), {"folder": folder})
        contents = [
            (
                await conn.execute(
                    text("SELECT pg_read_binary_file(:path, 0, 1000000000, true)"),
                    {"path": f"{folder}/{name}"},
                )
            ).scalar_one()
            or b""
            for name in list(names.scalars())
        ]
    return b"\n".join(contents)


async def test_marker_is_found_nowhere(
    gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "MARKER" + secrets.token_hex(12)
    prompt: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"repeat {marker}"}]
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        reply = await client.chat.completions.create(model="gpt-4o-mini", messages=prompt)
        assert marker in (reply.choices[0].message.content or "")
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=prompt,
            stream=True,
        )
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream])
        assert marker in streamed
        no_usage: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": f"{marker} [[fault:no_usage]]"}
        ]
        await client.chat.completions.create(model="gpt-4o-mini", messages=no_usage)
        await client.embeddings.create(model="text-embedding-3-small", input=marker)
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"{marker} [[fault:500]]"}],
            )
    headers = {"Authorization": f"Bearer {tenant.secret}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(gateway.url + "/v1/chat/completions", data=f'{{"x": "{marker}"') as bad,
    ):
        assert bad.status == 400
    await wait_for_usage(backend.engine, tenant.org_id, 6)

    assert marker.encode() not in await database_text(backend)
    assert marker not in caplog.text
    captured = capfd.readouterr()
    assert marker not in captured.out and marker not in captured.err
