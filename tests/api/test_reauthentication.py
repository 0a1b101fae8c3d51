"""Re-authentication: a session whose password was proved longer ago than the window may
not rotate keys or create access tokens until its person confirms the password again;
access tokens are never asked. A wrong password changes nothing and counts with failed
sign-ins."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from aisonar.clock import as_utc, utcnow
from aisonar.store.tables import access_tokens, audit_log, sessions
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.deletions import FromAddress
from tests.api.email_changes import member_with_password
from tests.api.people import Api
from tests.api.test_sessions import PASSWORD
from tests.support import Backend


def loopback() -> str:
    return f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


async def age_sessions(backend: Backend, user_id: str, seconds: float) -> None:
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(sessions)
            .where(sessions.c.user_id == user_id)
            .values(authenticated_at=utcnow() - timedelta(seconds=seconds))
        )


async def actions_of(backend: Backend, user_id: str) -> list[Any]:
    """The audit entries of what the person did in their sessions."""
    async with backend.engine.connect() as conn:
        query = select(audit_log).where(
            audit_log.c.actor_user_id == user_id, audit_log.c.object_kind == "session"
        )
        return list(await conn.execute(query.order_by(audit_log.c.id)))


async def token_count(backend: Backend, user_id: str) -> int:
    async with backend.engine.connect() as conn:
        found = await conn.scalar(
            select(func.count())
            .select_from(access_tokens)
            .where(access_tokens.c.user_id == user_id)
        )
    return int(found or 0)


async def test_an_old_session_confirms_its_password_before_rotating_or_creating_tokens(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await member_with_password(backend.engine)
    browser = FromAddress(gateway.url, loopback())
    try:
        assert await browser.sign_in(person.email) == 200
        status, key = await browser.call("POST", "/api/me/keys", {"name": "laptop"})
        assert status == 201
        # Just signed in: allowed.
        assert (await browser.call("POST", "/api/me/tokens", {"name": "fresh"}))[0] == 201
        rotate = f"/api/keys/{key['id']}/rotate"

        await age_sessions(backend, person.user_id, 601)
        tokens_before = await token_count(backend, person.user_id)
        for path, body in ((rotate, {"grace_s": 0}), ("/api/me/tokens", {"name": "late"})):
            status, refused = await browser.call("POST", path, body)
            assert status == 403, path
            assert refused["error"]["code"] == "reauthentication_required"
            assert "POST /api/session/reauthenticate" in refused["error"]["message"]
        assert await token_count(backend, person.user_id) == tokens_before
        # Everyday work goes on: a new API key needs no fresh password.
        assert (await browser.call("POST", "/api/me/keys", {"name": "desktop"}))[0] == 201
        # Nor does a caller with an access token.
        api = Api(gateway.url, person.token)
        assert (await api.post("/api/me/tokens", {"name": "by token"})).status == 201

        status, confirmed = await browser.call(
            "POST", "/api/session/reauthenticate", {"password": PASSWORD}
        )
        assert status == 200
        lasts = datetime.fromisoformat(confirmed["valid_until"]) - datetime.fromisoformat(
            confirmed["authenticated_at"]
        )
        assert lasts == timedelta(seconds=600)
        status, rotated = await browser.call("POST", rotate, {"grace_s": 0})
        assert status == 200 and rotated["secret"]
        assert (await browser.call("POST", "/api/me/tokens", {"name": "late"}))[0] == 201
    finally:
        await browser.close()
    done = [e for e in await actions_of(backend, person.user_id) if "reauth" in e.action]
    assert [entry.action for entry in done] == ["session.reauthenticate"]


async def test_the_window_is_a_setting(backend: Backend) -> None:
    settings = backend.settings.model_copy(update={"reauth_window_s": 30})
    person = await member_with_password(backend.engine)
    async with running_gateway(settings) as gateway:
        browser = FromAddress(gateway.url, loopback())
        try:
            assert await browser.sign_in(person.email) == 200
            await age_sessions(backend, person.user_id, 29)
            assert (await browser.call("POST", "/api/me/tokens", {"name": "a"}))[0] == 201
            await age_sessions(backend, person.user_id, 31)
            assert (await browser.call("POST", "/api/me/tokens", {"name": "b"}))[0] == 403
        finally:
            await browser.close()


async def test_a_wrong_password_is_refused_and_counts_with_failed_sign_ins(
    backend: Backend,
) -> None:
    settings = backend.settings.model_copy(update={"signin_failures_per_account_ip": 2})
    person = await member_with_password(backend.engine)
    here = loopback()
    async with running_gateway(settings) as gateway:
        browser, other = FromAddress(gateway.url, here), FromAddress(gateway.url, here)
        try:
            assert await browser.sign_in(person.email) == 200
            await age_sessions(backend, person.user_id, 601)
            for _ in range(2):
                status, refused = await browser.call(
                    "POST", "/api/session/reauthenticate", {"password": "Not-The-Password-9"}
                )
                assert status == 400 and refused["error"]["param"] == "password"
            status, limited = await browser.call(
                "POST", "/api/session/reauthenticate", {"password": PASSWORD}
            )
            assert status == 429 and limited["error"]["code"] == "too_many_sign_in_attempts"
            # The same count guards signing in to the account from the address.
            assert await other.sign_in(person.email) == 429
            assert (await browser.call("POST", "/api/me/tokens", {"name": "x"}))[0] == 403
            # A change made with the cookie still needs the CSRF token.
            browser.csrf = None
            status, _ = await browser.call(
                "POST", "/api/session/reauthenticate", {"password": PASSWORD}
            )
            assert status == 403
        finally:
            await browser.close()
            await other.close()
        # Access tokens have no session to re-authenticate.
        bearer = await Api(gateway.url, person.token).post(
            "/api/session/reauthenticate", {"password": PASSWORD}
        )
        assert bearer.status == 401
    async with backend.engine.connect() as conn:
        ages = await conn.execute(
            select(sessions.c.authenticated_at).where(sessions.c.user_id == person.user_id)
        )
        assert all(utcnow() - as_utc(moment) > timedelta(seconds=600) for moment in ages.scalars())
    assert [entry.action for entry in await actions_of(backend, person.user_id)] == [
        "session.sign_in",
        "session.reauthentication_failed",
        "session.reauthentication_failed",
    ]
