"""`aisonar usage export` streams what was recorded, filtered, as CSV or JSONL."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import openai
from click.testing import CliRunner

from aisonar.cli import main
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, cli_environment, make_tenant, wait_for_usage


async def test_export_filters_by_org_and_user(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    other = await make_tenant(backend.engine)
    for who, count in ((tenant, 2), (other, 1)):
        async with openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=who.secret) as c:
            for _ in range(count):
                await c.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                )
        await wait_for_usage(backend.engine, who.org_id, count)

    env = cli_environment(backend)

    async def export(*args: str) -> str:
        # The command runs its own event loop, so it gets a thread of its own.
        result = await asyncio.to_thread(
            CliRunner().invoke, main, ["usage", "export", *args], env=env
        )
        assert result.exit_code == 0, result.output
        return result.stdout

    jsonl = await export("--org", tenant.org_name, "--format", "jsonl")
    records = [json.loads(line) for line in jsonl.splitlines()]
    assert len(records) == 2 and {r["org_id"] for r in records} == {tenant.org_id}
    assert records[0]["started_at"] <= records[1]["started_at"]

    rows = list(csv.DictReader(io.StringIO(await export("--user", other.email))))
    assert [row["user_id"] for row in rows] == [other.user_id]
    assert int(rows[0]["input_tokens"]) > 0

    later = await export("--org", tenant.org_name, "--since", "2999-01-01")
    assert later.count("\n") == 1  # the header only
