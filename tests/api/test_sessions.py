"""Password sign-in: a session cookie (HttpOnly, SameSite=Lax), CSRF on every change made
with it, sign-out, failed sign-ins throttled per account and per address, and a
password change that ends every other session."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.store.roles import Role
from aisonar.store.tables import audit_log
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.support import Backend

PASSWORD = "Blue-Kettle-Morning-42"


async def member_with_password(backend: Backend) -> str:
    org = f"pw-{secrets.token_hex(4)}"
    email = f"{org}@example.com"
    async with backend.engine.begin() as conn:
        await accounts.create_org(conn, org)
        await accounts.create_user(conn, email, org, role=Role.ORG_ADMIN, password=PASSWORD)
    return email


class Browser:
    """A cookie jar and the CSRF token of its session, as a console page would hold."""

    def __init__(self, gateway: RunningGateway) -> None:
        self.url = gateway.url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf: str | None = None

    async def call(
        self, method: str, path: str, body: Any = None, *, csrf: bool = True
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        headers = {"x-csrf-token": self.csrf} if csrf and self.csrf else {}
        async with self.http.request(
            method, self.url + path, json=body, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None), response

    async def sign_in(self, email: str, password: str = PASSWORD) -> int:
        status, body, _ = await self.call(
            "POST", "/api/session", {"email": email, "password": password}
        )
        if status == 200:
            self.csrf = body["csrf_token"]
        return status

    async def close(self) -> None:
        await self.http.close()


async def test_a_signed_in_browser_needs_its_csrf_token_for_changes(
    gateway: RunningGateway, backend: Backend
) -> None:
    email = await member_with_password(backend)
    browser = Browser(gateway)
    try:
        status, body, response = await browser.call(
            "POST", "/api/session", {"email": email, "password": PASSWORD}
        )
        assert status == 200 and body["user"]["email"] == email
        browser.csrf = body["csrf_token"]
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        assert (await browser.call("GET", "/api/me"))[0] == 200
        refused = await browser.call("POST", "/api/me/keys", {"name": "x"}, csrf=False)
        assert refused[0] == 403 and "CSRF" in refused[1]["error"]["message"]
        assert (await browser.call("POST", "/api/me/keys", {"name": "x"}))[0] == 201
        assert (await browser.call("GET", "/api/session"))[1]["csrf_token"] == browser.csrf
        assert (await browser.call("DELETE", "/api/session"))[0] == 204
        assert (await browser.call("GET", "/api/me"))[0] == 401
    finally:
        await browser.close()


async def test_wrong_passwords_are_audited_then_throttled_per_account(
    gateway: RunningGateway, backend: Backend
) -> None:
    email = await member_with_password(backend)
    browser = Browser(gateway)
    try:
        assert await browser.sign_in("nobody-" + email) == 401
        for _ in range(5):
            assert await browser.sign_in(email, "Wrong-Password-123") == 401
        status, body, response = await browser.call(
            "POST", "/api/session", {"email": email, "password": PASSWORD}
        )
        assert status == 429 and int(response.headers["retry-after"]) > 60
        assert body["error"]["code"] == "too_many_sign_in_attempts"
        # Another account from the same address still signs in.
        assert await browser.sign_in(await member_with_password(backend)) == 200
    finally:
        await browser.close()
    async with backend.engine.connect() as conn:
        actions = [
            row.action
            for row in await conn.execute(select(audit_log).where(audit_log.c.actor == email))
        ]
    assert actions == ["session.sign_in_failed"] * 5


async def test_failed_sign_ins_are_throttled_per_address(backend: Backend) -> None:
    settings = backend.settings.model_copy(update={"signin_failures_per_ip": 3})
    async with running_gateway(settings) as gateway:
        browser = Browser(gateway)
        try:
            for _ in range(3):
                assert await browser.sign_in(f"ghost-{secrets.token_hex(3)}@example.com") == 401
            assert await browser.sign_in(await member_with_password(backend)) == 429
            async with browser.http.get(gateway.url + "/metrics") as metrics:
                counted = await metrics.text()
            assert 'aisonar_sign_ins_total{result="failed"} 3.0' in counted
            assert 'aisonar_sign_ins_total{result="throttled"} 1.0' in counted
        finally:
            await browser.close()


async def test_a_password_change_ends_every_other_session(
    gateway: RunningGateway, backend: Backend
) -> None:
    email = await member_with_password(backend)
    here, elsewhere = Browser(gateway), Browser(gateway)
    try:
        assert await here.sign_in(email) == 200 and await elsewhere.sign_in(email) == 200
        weak = await here.call(
            "POST",
            "/api/me/password",
            {"current_password": PASSWORD, "new_password": "password123"},
        )
        assert weak[0] == 400 and weak[1]["error"]["param"] == "new_password"
        wrong = await here.call(
            "POST",
            "/api/me/password",
            {"current_password": "nope", "new_password": "Quiet-Otter-Lantern-7"},
        )
        assert wrong[0] == 400 and wrong[1]["error"]["param"] == "current_password"
        changed = await here.call(
            "POST",
            "/api/me/password",
            {"current_password": PASSWORD, "new_password": "Quiet-Otter-Lantern-7"},
        )
        assert changed[:2] == (200, {"sessions_ended": 1})
        assert (await here.call("GET", "/api/me"))[0] == 200
        assert (await elsewhere.call("GET", "/api/me"))[0] == 401
        assert await elsewhere.sign_in(email) == 401
        assert await elsewhere.sign_in(email, "Quiet-Otter-Lantern-7") == 200
    finally:
        await here.close()
        await elsewhere.close()
