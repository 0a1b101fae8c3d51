"""Personal access tokens: created on the command line, shown once, sent as Bearer;
refused when unknown, revoked, expired, or their user is disabled."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select, update

from aisonar.accounts import tokens
from aisonar.cli import main
from aisonar.clock import utcnow
from aisonar.store.tables import access_tokens, users
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_org
from tests.support import Backend, cli_environment


async def test_a_token_from_the_command_line_opens_the_api_as_its_user(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["token", "create", org.member.email, "--name", "laptop", "--json"],
        env=cli_environment(backend),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["secret"].startswith("sonar-pat-") and created["name"] == "laptop"
    me = await Api(gateway.url, created["secret"]).get("/api/me")
    assert me.status == 200
    assert (me.body["email"], me.body["role"], me.body["org_id"]) == (
        org.member.email,
        "user",
        org.id,
    )
    # Only its hash is stored.
    async with backend.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(access_tokens.c.token_hash).where(access_tokens.c.id == created["id"])
            )
        ).scalar_one()
    assert created["secret"] not in stored and len(stored) == 64


async def test_no_unknown_or_api_key_bearer_is_refused_in_the_apis_format(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    for token in (None, "sonar-pat-nonsense", org.member.key_secret):
        refused = await Api(gateway.url, token).get("/api/me")
        assert refused.status == 401, token
        assert refused.body["error"]["type"] == "authentication_error"


async def test_revoked_expired_and_disabled_users_tokens_stop_working(
    gateway: RunningGateway, backend: Backend
) -> None:
    revoked_org, expired_org, disabled_org = [await make_org(backend.engine) for _ in range(3)]
    own = Api(gateway.url, revoked_org.member.token)
    [listed] = (await own.get("/api/me/tokens")).body
    assert (await own.delete(f"/api/me/tokens/{listed['id']}")).status == 200
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(access_tokens)
            .where(access_tokens.c.user_id == expired_org.member.user_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await conn.execute(
            update(users)
            .where(users.c.id == disabled_org.member.user_id)
            .values(disabled_at=utcnow())
        )
    for org in (revoked_org, expired_org, disabled_org):
        assert (await Api(gateway.url, org.member.token).get("/api/me")).status == 401


async def test_a_token_made_through_the_api_is_shown_once(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.admin.token)
    created = await api.post("/api/me/tokens", {"name": "ci"})
    assert created.status == 201 and created.body["secret"].startswith("sonar-pat-")
    listed = (await api.get("/api/me/tokens")).body
    assert {t["name"] for t in listed} == {"tests", "ci"}
    assert all("secret" not in t for t in listed)
    assert (await Api(gateway.url, created.body["secret"]).get("/api/me")).status == 200
    async with backend.engine.connect() as conn:
        assert len(await tokens.list_tokens(conn, org.admin.user_id)) == 2
