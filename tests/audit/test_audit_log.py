"""The audit log: every administrative action through the API or the command line is
one entry (who, what, which object, when, from where, what changed, never a secret),
written with the change or not at all; operators read it all, org admins their part."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import select

from aisonar.cli import main
from aisonar.store.tables import audit_log
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_operator, make_org
from tests.support import Backend, cli_environment


async def entries_about(backend: Backend, object_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(audit_log).where(audit_log.c.object_id == object_id)
        return list(await conn.execute(query.order_by(audit_log.c.id)))


async def aisonar(backend: Backend, *args: str) -> Result:
    result = await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=cli_environment(backend), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result


async def test_api_actions_are_recorded_with_who_where_and_what_changed(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.admin.token)
    created = await api.post(
        f"/api/users/{org.member.user_id}/keys", {"name": "ci", "models": ["gpt-4o-mini"]}
    )
    key_id, secret = created.body["id"], created.body["secret"]
    assert (await api.delete(f"/api/keys/{key_id}")).status == 200
    token = await api.post("/api/me/tokens", {"name": "deploy"})
    added = await api.post(
        f"/api/orgs/{org.id}/users",
        {"email": f"n-{org.name}@example.com", "password": "Quiet-Otter-Lantern-7"},
    )
    made, revoked = await entries_about(backend, key_id)
    assert (made.action, made.actor, made.actor_user_id, made.ip) == (
        "key.create",
        org.admin.email,
        org.admin.user_id,
        "127.0.0.1",
    )
    assert (made.object_kind, made.org_id) == ("key", org.id)
    assert made.changes["name"] == [None, "ci"]
    assert made.changes["models"] == [None, ["gpt-4o-mini"]]
    assert revoked.action == "key.revoke" and revoked.changes["revoked_at"][0] is None
    [user_entry] = await entries_about(backend, added.body["id"])
    assert user_entry.changes["password_set"] == [None, True]
    # No secret ever reaches the log.
    async with backend.engine.connect() as conn:
        everything = json.dumps(
            [list(map(str, row)) for row in await conn.execute(select(audit_log))]
        )
    for never in (secret, token.body["secret"], "Quiet-Otter-Lantern-7", org.member.key_secret):
        assert never not in everything


async def test_a_refused_action_leaves_no_entry(gateway: RunningGateway, backend: Backend) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.admin.token)
    refused = await api.post(f"/api/orgs/{org.id}/users", {"email": org.member.email})
    assert refused.status == 409
    async with backend.engine.connect() as conn:
        query = select(audit_log).where(
            audit_log.c.org_id == org.id, audit_log.c.actor == org.admin.email
        )
        assert list(await conn.execute(query)) == []


async def test_command_line_actions_are_recorded_as_the_command_line(
    backend: Backend,
) -> None:
    org = await make_org(backend.engine)
    await aisonar(backend, "key", "revoke", org.member.key_id)
    await aisonar(backend, "limits", "set", "--user", org.member.email, "--rpm", "30")
    await aisonar(backend, "limits", "set", "--user", org.member.email, "--rpm", "60")
    await aisonar(backend, "balance", "recharge", org.name, "7.50", "--reference", "INV-9")
    listed = json.loads(
        (await aisonar(backend, "audit", "list", "--org", org.name, "--json")).stdout
    )
    by_action = [(e["action"], e["actor"]) for e in listed]
    assert by_action[:4] == [
        ("balance.recharge", "command line"),
        ("limits.set", "command line"),
        ("limits.set", "command line"),
        ("key.revoke", "command line"),
    ]
    assert listed[1]["changes"] == {"rpm": [30, 60]} and listed[2]["changes"] == {"rpm": [None, 30]}
    assert listed[0]["changes"]["amount"] == [None, "7.50"]
    exported = (
        await aisonar(backend, "audit", "export", "--org", org.name, "--format", "csv")
    ).stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [row["action"] for row in rows][-4:] == [
        "key.revoke",
        "limits.set",
        "limits.set",
        "balance.recharge",
    ]
    lines = (await aisonar(backend, "audit", "export", "--org", org.name)).stdout.splitlines()
    assert json.loads(lines[-1])["object_kind"] == "ledger_entry"


async def test_operators_read_everything_org_admins_their_part_users_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    a, b = await make_org(backend.engine), await make_org(backend.engine)
    for org in (a, b):
        await Api(gateway.url, org.admin.token).delete(f"/api/keys/{org.member.key_id}")
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    everything = (await operator.get("/api/audit?action=key.revoke&limit=1000")).body
    assert {a.member.key_id, b.member.key_id} <= {e["object_id"] for e in everything}
    mine = (await Api(gateway.url, a.admin.token).get("/api/audit")).body
    assert mine and {e["org_id"] for e in mine} == {a.id}
    assert b.member.key_id not in {e["object_id"] for e in mine}
    refused = await Api(gateway.url, a.member.token).get("/api/audit")
    assert refused.status == 403
    older = (await operator.get(f"/api/audit?before_id={everything[0]['id']}&limit=1")).body
    assert older[0]["id"] < everything[0]["id"]
