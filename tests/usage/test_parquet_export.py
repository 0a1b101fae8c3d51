"""Parquet exports, read back with pyarrow: from the API over real HTTP and from
`aisonar usage export`, every event of the database, row for row, in typed columns,
written as row groups while it streams; the ledger and the audit log as well."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from multidict import CIMultiDictProxy
from openai.types.chat import ChatCompletionMessageParam
from sqlalchemy import JSON, DateTime, delete, insert, select

from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.cli import main
from aisonar.clock import as_utc, utcnow
from aisonar.exports.parquet import ROWS_PER_GROUP
from aisonar.store.tables import usage_events
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.models import USAGE_COLUMNS
from tests.api.people import Org, make_operator, make_org
from tests.support import Backend, cli_environment, wait_for_usage

TIMESTAMP = pa.timestamp("us", tz="UTC")
LARGE_EXPORT = 60_000
_JSON_COLUMNS = [name for name in USAGE_COLUMNS if isinstance(usage_events.c[name].type, JSON)]
_TIME_COLUMNS = [name for name in USAGE_COLUMNS if isinstance(usage_events.c[name].type, DateTime)]


@dataclass
class Download:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


async def download(gateway: RunningGateway, token: str, path: str) -> Download:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(gateway.url + path) as response,
    ):
        return Download(response.status, response.headers, await response.read())


async def aisonar(backend: Backend, *args: str, ok: bool = True) -> Result:
    # The command runs its own event loop, so it gets a thread of its own.
    result = await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=cli_environment(backend)
    )
    assert (result.exit_code == 0) is ok, result.output
    return result


async def stored_events(backend: Backend, org_id: str) -> list[dict[str, Any]]:
    query = (
        select(*(usage_events.c[name] for name in USAGE_COLUMNS))
        .where(usage_events.c.org_id == org_id)
        .order_by(usage_events.c.started_at, usage_events.c.id)
    )
    async with backend.engine.connect() as conn:
        return [row._asdict() for row in await conn.execute(query)]


def as_exported(event: dict[str, Any]) -> dict[str, Any]:
    """The row an event of the database should be in the export."""
    row = dict(event)
    for name in _TIME_COLUMNS:
        row[name] = None if row[name] is None else as_utc(row[name])
    started, ttft_ms = row["started_at"], row["ttft_ms"]
    row["first_byte_at"] = None if ttft_ms is None else started + timedelta(milliseconds=ttft_ms)
    row["ended_at"] = started + timedelta(milliseconds=row["latency_ms"])
    return row


def as_read(row: dict[str, Any]) -> dict[str, Any]:
    """A row read back from Parquet, its JSON columns parsed."""
    parsed = {name: None if row[name] is None else json.loads(row[name]) for name in _JSON_COLUMNS}
    return {**row, **parsed}


def assert_every_event(parquet: bytes, events: list[dict[str, Any]]) -> pq.ParquetFile:
    exported = pq.ParquetFile(io.BytesIO(parquet))
    schema = exported.schema_arrow
    assert schema.names == [*USAGE_COLUMNS, "first_byte_at", "ended_at"]
    for names, arrow_type in (
        (("id", "org_id", "endpoint", "error_message", "source", "attempts"), pa.string()),
        (("status_code", "latency_ms", "ttft_ms"), pa.int32()),
        (("input_tokens", "output_tokens", "cost"), pa.int64()),
        (("stream", "tokens_estimated"), pa.bool_()),
        (("started_at", "first_byte_at", "ended_at"), TIMESTAMP),
    ):
        assert [schema.field(name).type for name in names] == [arrow_type] * len(names)
    assert not schema.field("id").nullable and schema.field("ttft_ms").nullable
    rows = exported.read().to_pylist()
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        assert as_read(row) == as_exported(event)
    return exported


def event_row(org: Org, number: int) -> dict[str, Any]:
    """A usage event as the table stores it, varied by its number: streamed or not,
    failed or not, with failover attempts or none, a cost beyond 32 bits."""
    streamed, failed = number % 2 == 0, number % 10 == 3
    return {
        "id": f"req_pq{org.id[-12:]}{number:06d}",
        "started_at": utcnow() - timedelta(hours=1) + timedelta(milliseconds=number),
        "org_id": org.id,
        "user_id": org.member.user_id,
        "key_id": org.member.key_id,
        "client_ip": "10.0.0.7",
        "endpoint": "/v1/chat/completions",
        "requested_model": "smart",
        "upstream_model": None if failed else "gpt-4o",
        "channel_id": "chn_parquet",
        "stream": streamed,
        "status_code": 502 if failed else 200,
        "error_type": "upstream_error" if failed else None,
        "error_message": 'upstream said "no", twice' if failed else None,
        "input_tokens": number,
        "cached_input_tokens": number // 4,
        "output_tokens": 0 if failed else 3 * number,
        "reasoning_tokens": 0,
        "cache_write_tokens": 0,
        "tokens_estimated": number % 3 == 0,
        "cost": 0 if failed else 5_000_000_000 + number,
        "price_version": "genai-prices test",
        "latency_ms": 100 + number % 900,
        "ttft_ms": 20 + number % 50 if streamed and not failed else None,
        "attempts": [{"channel_id": "chn_a", "outcome": "http_500", "latency_ms": 4}]
        if number % 5 == 0
        else None,
        "provider": "openai",
    }


@pytest.fixture
async def large_org(backend: Backend) -> AsyncIterator[Org]:
    """An organization with LARGE_EXPORT usage events, inserted straight into the table;
    they are deleted afterwards so other tests do not wade through them."""
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        for first in range(0, LARGE_EXPORT, 10_000):
            rows = [event_row(org, number) for number in range(first, first + 10_000)]
            await conn.execute(insert(usage_events), rows)
    yield org
    async with backend.engine.begin() as conn:
        await conn.execute(delete(usage_events).where(usage_events.c.org_id == org.id))


async def test_a_large_export_streams_in_row_groups(
    gateway: RunningGateway, backend: Backend, large_org: Org
) -> None:
    events = await stored_events(backend, large_org.id)
    assert len(events) == LARGE_EXPORT
    response = await download(
        gateway, large_org.admin.token, f"/api/orgs/{large_org.id}/usage?format=parquet"
    )
    assert response.status == 200
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    assert response.headers["content-disposition"] == 'attachment; filename="usage.parquet"'
    assert response.headers["transfer-encoding"] == "chunked"
    exported = assert_every_event(response.body, events)
    groups = exported.metadata.num_row_groups
    assert groups == -(-LARGE_EXPORT // ROWS_PER_GROUP) and groups > 1

    # A client that leaves after the first row group: the gateway goes on serving.
    headers = {"Authorization": f"Bearer {large_org.admin.token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"{gateway.url}/api/orgs/{large_org.id}/usage?format=parquet") as left,
    ):
        assert (await left.content.readany()).startswith(b"PAR1")
    later = "/api/me/usage?format=parquet&since=2999-01-01T00:00:00Z"
    again = await download(gateway, large_org.member.token, later)
    assert again.status == 200 and pq.read_table(io.BytesIO(again.body)).num_rows == 0


async def test_the_api_and_the_command_line_export_what_the_database_holds(
    gateway: RunningGateway, backend: Backend, tmp_path: Path
) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        await ledger.credit(conn, org.id, NewEntry(LedgerKind.RECHARGE, 10_000_000, "test", "t"))
    hello: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=org.member.key_secret, max_retries=0
    ) as client:
        await client.chat.completions.create(model="gpt-4o-mini", messages=hello)
        stream = await client.chat.completions.create(model="gpt-4o", messages=hello, stream=True)
        async for _ in stream:
            pass
    await wait_for_usage(backend.engine, org.id, 2)
    async with backend.engine.begin() as conn:
        await conn.execute(insert(usage_events), [event_row(org, number) for number in range(20)])
    events = await stored_events(backend, org.id)
    assert events[-1]["stream"] and events[-1]["ttft_ms"] is not None

    response = await download(gateway, org.member.token, "/api/me/usage?format=parquet")
    assert response.status == 200
    assert assert_every_event(response.body, events).metadata.num_row_groups == 1

    output = tmp_path / "usage.parquet"
    await aisonar(
        backend,
        "usage",
        "export",
        "--org",
        org.name,
        "--format",
        "parquet",
        "--output",
        str(output),
    )
    assert_every_event(output.read_bytes(), events)


async def test_the_ledger_and_the_audit_log_export_as_parquet_too(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        await ledger.credit(conn, org.id, NewEntry(LedgerKind.RECHARGE, 2_500_000, "test", "t"))
    response = await download(gateway, org.admin.token, f"/api/orgs/{org.id}/ledger?format=parquet")
    assert response.headers["content-disposition"] == 'attachment; filename="ledger.parquet"'
    entries = pq.read_table(io.BytesIO(response.body))
    assert entries.schema.field("amount").type == pa.int64()
    assert entries.schema.field("created_at").type == TIMESTAMP
    [entry] = entries.to_pylist()
    assert (entry["kind"], entry["amount"], entry["amount_display"]) == (
        "recharge",
        2_500_000,
        "2.50",
    )

    output = (
        await aisonar(backend, "audit", "export", "--org", org.name, "--format", "parquet")
    ).stdout_bytes
    audit = pq.read_table(io.BytesIO(output))
    assert audit.schema.field("at").type == TIMESTAMP
    assert audit.schema.field("id").type == pa.int32()
    created = [row for row in audit.to_pylist() if row["action"] == "user.create"]
    assert len(created) == 2 and isinstance(json.loads(created[0]["changes"]), dict)


async def test_an_unknown_format_is_refused(gateway: RunningGateway, backend: Backend) -> None:
    operator = await make_operator(backend.engine)
    response = await download(gateway, operator.token, "/api/usage?format=xml")
    assert response.status == 400
    error = json.loads(response.body)["error"]
    assert error["param"] == "query.format" and "'parquet'" in error["message"]
    refused = await aisonar(backend, "usage", "export", "--format", "xml", ok=False)
    assert (
        refused.exit_code == 2 and "'xml' is not one of 'csv', 'jsonl', 'parquet'" in refused.output
    )


async def test_parquet_is_not_written_to_a_terminal(backend: Backend) -> None:
    controller, terminal = pty.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "aisonar", "usage", "export", "--format", "parquet"),
            *("--since", "2999-01-01"),
            stdout=terminal,
            stderr=asyncio.subprocess.PIPE,
            env=cli_environment(backend),
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        os.close(terminal)
        os.close(controller)
    assert process.returncode == 2 and b"Parquet is binary" in stderr
