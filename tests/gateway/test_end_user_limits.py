"""Limits for each end user of an organization's application: set once on the
organization (`aisonar limits set --org ORG --each-end-user`, or the API by an org
admin), counted for each end user a request names, so that one end user's flood refuses
no other, and a request naming no end user is not held to them."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from click.testing import CliRunner
from openai.types.chat import ChatCompletionMessageParam

from aisonar.cli import main
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_org
from tests.support import Backend, Tenant, cli_environment, recorded_events

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]


async def aisonar(backend: Backend, *arguments: str) -> str:
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        list(arguments),
        env=cli_environment(backend),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.stdout


async def ask(client: openai.AsyncOpenAI, end_user: str | None) -> None:
    headers = {} if end_user is None else {"x-aisonar-user": end_user}
    await client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, max_tokens=5, extra_headers=headers
    )


async def test_one_end_users_flood_refuses_no_other(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    shown = await aisonar(
        backend,
        "limits",
        "set",
        "--org",
        tenant.org_name,
        "--each-end-user",
        "--rpm",
        "2",
        "--json",
    )
    assert json.loads(shown)["subject"] == "end_user" and json.loads(shown)["rpm"] == 2
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        await ask(client, "alice")
        await ask(client, "alice")
        with pytest.raises(openai.RateLimitError) as refused:
            await ask(client, "alice")
        await ask(client, "bob")
        await ask(client, "bob")
        for _ in range(3):
            await ask(client, None)
    assert f"requests per minute of end_user alice of {tenant.org_name}" in refused.value.message
    events = await recorded_events(backend, tenant, 8)
    assert [(e.end_user, e.status_code) for e in events] == [
        ("alice", 200),
        ("alice", 200),
        ("alice", 429),
        ("bob", 200),
        ("bob", 200),
        (None, 200),
        (None, 200),
        (None, 200),
    ]


async def test_a_spend_quota_holds_each_end_user(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await aisonar(
        backend,
        "limits",
        "set",
        "--org",
        tenant.org_name,
        "--each-end-user",
        "--daily-spend",
        "0.000001",
    )
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        with pytest.raises(openai.RateLimitError) as refused:
            await ask(client, "alice")
        await ask(client, None)
    assert refused.value.code == "insufficient_quota"
    assert f"daily spend quota of end_user alice of {tenant.org_name}" in refused.value.message


async def test_an_org_admin_sets_them_and_a_member_may_not(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    path = f"/api/limits/end_user/{org.id}"
    admin = Api(gateway.url, org.admin.token)
    assert (await admin.call("PATCH", path, {"rpm": "30"})).status == 200
    member = Api(gateway.url, org.member.token)
    seen = (await member.get(path)).body
    assert (seen["subject"], seen["rpm"]) == ("end_user", 30)
    assert (await member.call("PATCH", path, {"rpm": "9"})).status == 403
    stranger = await make_org(backend.engine)
    assert (await Api(gateway.url, stranger.admin.token).get(path)).status == 404
