"""Prompts and responses are never written: a marker sent through every path is found
nowhere on disk, in the database or in the logs."""

from __future__ import annotations

import logging
import secrets

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from sqlalchemy import select, text

from aisonar.store.tables import metadata
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, read_files_elsewhere, wait_for_usage


async def database_text(backend: Backend) -> bytes:
    if backend.name == "sqlite":
        files = [str(p) for p in backend.settings.data_dir.rglob("*") if p.is_file()]
        return read_files_elsewhere(files)
    dumped: list[str] = []
    async with backend.engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = await conn.execute(select(text(f"{table.name}::text")).select_from(table))
            dumped.extend(str(row[0]) for row in rows)
    return "\n".join(dumped).encode()


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
