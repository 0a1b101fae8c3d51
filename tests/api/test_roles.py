"""Roles through the management API: an operator manages the installation, an org admin
their organization, a user themselves; bad input changes nothing."""

from __future__ import annotations

import asyncio
import secrets

import openai
import pytest

from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_operator, make_org
from tests.support import Backend


async def test_an_operator_creates_organizations_and_their_admins(
    gateway: RunningGateway, backend: Backend
) -> None:
    api = Api(gateway.url, (await make_operator(backend.engine)).token)
    name = f"acme-{secrets.token_hex(4)}"
    created = await api.post("/api/orgs", {"name": name, "plan": "pro", "models": ["gpt-4o*"]})
    assert created.status == 201
    assert (created.body["plan"], created.body["models"]) == ("pro", ["gpt-4o*"])
    org_id = created.body["id"]
    admin = await api.post(
        f"/api/orgs/{org_id}/users", {"email": f"boss@{name}.io", "role": "org_admin"}
    )
    assert admin.status == 201 and admin.body["org_name"] == name
    listed = (await api.get("/api/orgs")).body
    assert name in {org["name"] for org in listed} and len(listed) > 1
    assert (await api.post("/api/orgs", {"name": name})).status == 409


async def test_an_org_admin_manages_their_organization_only(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.admin.token)
    assert (await api.post("/api/orgs", {"name": "mine-now"})).status == 403
    assert [o["id"] for o in (await api.get("/api/orgs")).body] == [org.id]
    added = await api.post(f"/api/orgs/{org.id}/users", {"email": f"new-{org.name}@example.com"})
    assert added.status == 201 and added.body["role"] == "user"
    promoted = await api.post(
        f"/api/orgs/{org.id}/users", {"email": f"op-{org.name}@example.com", "role": "operator"}
    )
    assert promoted.status == 403
    members = {u["email"] for u in (await api.get(f"/api/orgs/{org.id}/users")).body}
    assert members == {org.admin.email, org.member.email, f"new-{org.name}@example.com"}
    keys = await api.get(f"/api/users/{org.member.user_id}/keys")
    assert [k["id"] for k in keys.body] == [org.member.key_id]


async def test_a_user_sees_themselves_and_their_organization_but_manages_neither(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    assert (await api.get(f"/api/orgs/{org.id}")).status == 200
    refused = await api.get(f"/api/orgs/{org.id}/users")
    assert refused.status == 403 and refused.body["error"]["type"] == "permission_error"
    assert (await api.get(f"/api/users/{org.admin.user_id}")).status == 404
    assert (await api.get(f"/api/users/{org.member.user_id}")).status == 200
    created = await api.post("/api/me/keys", {"name": "script", "models": ["gpt-4o-mini"]})
    assert created.status == 201 and created.body["secret"].startswith("sk-sonar-")
    assert {k["name"] for k in (await api.get("/api/me/keys")).body} == {"tests", "script"}


async def test_a_key_an_org_admin_revokes_is_refused_by_the_gateway(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        await ledger.credit(
            conn, org.id, NewEntry(LedgerKind.RECHARGE, parse_amount("5"), "test", "test")
        )
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=org.member.key_secret, max_retries=0
    ) as client:
        await client.models.list()
        revoked = await Api(gateway.url, org.admin.token).delete(f"/api/keys/{org.member.key_id}")
        assert revoked.status == 200 and revoked.body["revoked_at"] is not None
        for _ in range(100):
            try:
                await client.models.list()
            except openai.AuthenticationError:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the revoked key still works")
    balance = (await Api(gateway.url, org.member.token).get("/api/me/balance")).body
    assert balance == {"org_id": org.id, "balance": "5.00", "held": "0.00", "available": "5.00"}


async def test_bad_input_is_a_400_in_the_apis_format_and_changes_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.admin.token)
    for body in (
        {"email": "not-an-email"},
        {"email": "x@example.com", "role": "emperor"},
        {"email": "x@example.com", "password": "short"},
        {"email": "x@example.com", "unexpected": 1},
        {"email": org.member.email},
    ):
        refused = await api.post(f"/api/orgs/{org.id}/users", body)
        assert refused.status in (400, 409), body
        assert refused.body["error"]["message"], body
    members = (await api.get(f"/api/orgs/{org.id}/users")).body
    assert len(members) == 2
    expired = await api.post("/api/me/keys", {"expires_at": "2000-01-01T00:00:00Z"})
    assert expired.status == 400 and expired.body["error"]["param"] == "expires"
