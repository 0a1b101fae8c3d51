"""Members and plans after the fact: an org admin renames, promotes and disables members
(never themselves, never an operator); a disabled member's keys, tokens and sessions
stop at once; an operator moves an organization to another plan. All audited."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from aisonar.cli import main
from aisonar.store.tables import audit_log
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_operator, make_org
from tests.support import Backend, cli_environment


async def test_an_org_admin_promotes_and_disables_members_but_not_themselves(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    member = f"/api/users/{org.member.user_id}"
    renamed = await Api(gateway.url, org.member.token).call("PATCH", member, {"name": "Bea"})
    assert renamed.status == 200 and renamed.body["name"] == "Bea"
    self_promotion = await Api(gateway.url, org.member.token).call(
        "PATCH", member, {"role": "org_admin"}
    )
    assert self_promotion.status == 403
    promoted = await admin.call("PATCH", member, {"role": "org_admin"})
    assert promoted.body["role"] == "org_admin"
    assert (await admin.call("PATCH", member, {"role": "operator"})).status == 403
    own = await admin.call("PATCH", f"/api/users/{org.admin.user_id}", {"disabled": True})
    assert own.status == 400
    operator = await make_operator(backend.engine)
    assert (
        await admin.call("PATCH", f"/api/users/{operator.user_id}", {"disabled": True})
    ).status == 404
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=org.member.key_secret, max_retries=0
    ) as client:
        await client.models.list()
        disabled = await admin.call("PATCH", member, {"disabled": True})
        assert disabled.body["disabled"] is True
        for _ in range(100):
            try:
                await client.models.list()
            except openai.AuthenticationError:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("a disabled member's key still works")
    assert (await Api(gateway.url, org.member.token).get("/api/me")).status == 401
    enabled = await admin.call("PATCH", member, {"disabled": False})
    assert enabled.body["disabled"] is False
    assert (await Api(gateway.url, org.member.token).get("/api/me")).status == 200
    async with backend.engine.connect() as conn:
        changes = [
            row.changes
            for row in await conn.execute(
                select(audit_log)
                .where(
                    audit_log.c.object_id == org.member.user_id, audit_log.c.action == "user.update"
                )
                .order_by(audit_log.c.id)
            )
        ]
    assert changes == [
        {"name": ["Test", "Bea"]},
        {"role": ["user", "org_admin"]},
        {"disabled": [False, True]},
        {"disabled": [True, False]},
    ]


async def test_an_operator_moves_an_organization_to_another_plan(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    moved = await operator.call(
        "PATCH", f"/api/orgs/{org.id}", {"plan": "pro", "models": ["gpt-4o*"]}
    )
    assert (moved.body["plan"], moved.body["models"]) == ("pro", ["gpt-4o*"])
    freed = await operator.call("PATCH", f"/api/orgs/{org.id}", {"models": None})
    assert freed.body["models"] is None and freed.body["plan"] == "pro"
    assert (
        await Api(gateway.url, org.admin.token).call(
            "PATCH", f"/api/orgs/{org.id}", {"plan": "scale"}
        )
    ).status == 403
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["org", "update", org.name, "--plan", "scale", "--json"],
        env=cli_environment(backend),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plan"] == "scale"
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["user", "update", org.member.email, "--role", "org_admin", "--disable", "--json"],
        env=cli_environment(backend),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["role"], shown["disabled"]) == ("org_admin", True)
