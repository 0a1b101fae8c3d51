"""Every console page renders and works without JavaScript: fetched over plain HTTP with
a session, each answers its content with the security headers; forms refuse a missing
CSRF token and other sites; in a browser with JavaScript off, sign-in and creating a key
still work, the secret plainly on the page."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from playwright.async_api import Browser
from sqlalchemy import func, select

from aisonar.accounts import services as accounts
from aisonar.console.security import CONTENT_SECURITY_POLICY
from aisonar.store.tables import api_keys
from aisonar.testing.gateway_server import RunningGateway
from tests.console.people import (
    PASSWORD,
    browsing,
    console_person,
    csrf_token_in,
    screenshot,
    sign_in_over_http,
)
from tests.support import Backend

PAGES = {
    "/console": ["Dashboard", "Balance", "Cost per day, last 30 days", 'id="chart-cost"'],
    "/console/keys": ["API keys", "Create a key", 'name="csrf_token"'],
    "/console/usage": ["Usage log", "No requests match."],
}


def assert_console_headers(headers: Mapping[str, str]) -> None:
    """`headers` looks names up regardless of case (as aiohttp's do)."""
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


async def key_count(backend: Backend, user_id: str) -> int:
    async with backend.engine.connect() as conn:
        query = select(func.count()).where(api_keys.c.user_id == user_id)
        return int((await conn.execute(query)).scalar_one())


async def test_every_page_renders_over_plain_http_with_its_headers(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(gateway.url + "/console/sign-in") as sign_in:
            assert sign_in.status == 200 and 'action="/console/sign-in"' in await sign_in.text()
            assert_console_headers(sign_in.headers)
        async with http.get(gateway.url + "/console", allow_redirects=False) as signed_out:
            assert signed_out.status == 303
            assert signed_out.headers["location"].startswith("/console/sign-in?next=")
            assert_console_headers(signed_out.headers)
        await sign_in_over_http(http, gateway.url, person.email)
        for path, expected in PAGES.items():
            async with http.get(gateway.url + path) as answer:
                html = await answer.text()
                assert answer.status == 200, path
                assert_console_headers(answer.headers)
                assert answer.headers["Cache-Control"] == "no-store"
                assert answer.headers["Content-Language"] == "en"
                for text in expected:
                    assert text in html, (path, text)
                assert "<script>" not in html and " style=" not in html, path
        async with http.get(gateway.url + "/static/console.js") as script:
            assert script.status == 200
            assert_console_headers(script.headers)
        async with http.get(gateway.url + "/console/policies/none") as missing:
            assert missing.status == 404 and "Not found" in await missing.text()
        # The management API keeps its own headers.
        async with http.get(gateway.url + "/api/session") as api:
            assert api.status == 200 and "Content-Security-Policy" not in api.headers


async def test_forms_refuse_a_missing_token_and_other_sites_and_change_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    url = gateway.url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        form = {"email": person.email, "password": PASSWORD}
        elsewhere = {"Origin": "https://elsewhere.example"}
        async with http.post(url + "/console/sign-in", data=form, headers=elsewhere) as forged:
            assert forged.status == 403
        await sign_in_over_http(http, url, person.email)
        async with http.get(url + "/console/keys") as keys:
            token = csrf_token_in(await keys.text())
        before = await key_count(backend, person.user_id)
        for data in ({"name": "no token"}, {"name": "wrong", "csrf_token": "x" * 43}):
            async with http.post(url + "/console/keys", data=data) as refused:
                assert refused.status == 403 and "expired" in await refused.text()
        async with http.post(
            url + "/console/keys",
            data={"name": "elsewhere", "csrf_token": token},
            headers={"Sec-Fetch-Site": "cross-site"},
        ) as cross_site:
            assert cross_site.status == 403
        past = {"name": "old", "expires": "2020-01-01", "csrf_token": token}
        async with http.post(url + "/console/keys", data=past) as bad:
            assert bad.status == 400 and "expiry must be in the future" in await bad.text()
        assert await key_count(backend, person.user_id) == before

        # Revoking: a confirmation page, then the form; someone else's key is not found.
        created_form = {"name": "to revoke", "csrf_token": token}
        async with http.post(url + "/console/keys", data=created_form) as created:
            assert created.status == 201
        async with backend.engine.connect() as conn:
            key_id = await conn.scalar(
                select(api_keys.c.id).where(
                    api_keys.c.user_id == person.user_id, api_keys.c.name == "to revoke"
                )
            )
        other = await console_person(backend.engine)
        async with backend.engine.begin() as conn:
            others_key, _ = await accounts.create_key(conn, other.email, name="not yours")
        others_revoke = url + f"/console/keys/{others_key.id}/revoke"
        async with http.get(others_revoke) as hidden:
            assert hidden.status == 404
        async with http.post(others_revoke, data={"csrf_token": token}) as refused_revoke:
            assert refused_revoke.status == 404
        async with backend.engine.connect() as conn:
            untouched = await conn.scalar(
                select(api_keys.c.revoked_at).where(api_keys.c.id == others_key.id)
            )
        assert untouched is None
        async with http.get(url + f"/console/keys/{key_id}/revoke") as confirm:
            assert confirm.status == 200 and "to revoke" in await confirm.text()
        revoke = url + f"/console/keys/{key_id}/revoke"
        async with http.post(revoke, data={"csrf_token": token}, allow_redirects=False) as done:
            assert done.status == 303 and done.headers["location"] == "/console/keys"
        async with backend.engine.connect() as conn:
            revoked_at = await conn.scalar(
                select(api_keys.c.revoked_at).where(api_keys.c.id == key_id)
            )
        assert revoked_at is not None
        async with http.post(
            url + "/console/keys/key_missing/revoke", data={"csrf_token": token}
        ) as gone:
            assert gone.status == 404


async def test_sign_in_and_a_new_key_work_with_javascript_off(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with browsing(browser, java_script_enabled=False) as seen:
        page = seen.page
        await page.goto(gateway.url + "/console/sign-in")
        await page.fill("#email", person.email)
        await page.fill("#password", "not the password")
        await page.click("form.stacked button[type=submit]")
        assert await page.locator("p.error").text_content() == "The email or password is wrong."
        await page.fill("#password", PASSWORD)
        await page.click("form.stacked button[type=submit]")
        assert page.url == gateway.url + "/console"
        # Without the script, the numbers are there as tables.
        assert await page.locator("#cost-table tbody tr").count() == 30
        await page.goto(gateway.url + "/console/keys")
        await page.fill("#key-name", "no script")
        await page.fill("#key-models", "gpt-4o-mini, gpt-4o")
        await page.click("form.stacked button[type=submit]")
        secret = (await page.locator("#key-secret").text_content() or "").strip()
        assert secret.startswith("sk-")
        assert not await page.locator("button[data-copy]").is_visible()
        assert "gpt-4o, gpt-4o-mini" in (await page.locator("dl.details").text_content() or "")
        await screenshot(page, "key-created-no-script")
        await page.goto(gateway.url + "/console/keys")
        assert await page.locator("#keys-table tbody tr", has_text="no script").count() == 1
        await screenshot(page, "keys")
        await page.click("#keys-table a[href$='/revoke']")
        await screenshot(page, "key-revoke")
        await page.click("form button.danger")
        assert page.url == gateway.url + "/console/keys"
        row = page.locator("#keys-table tbody tr", has_text="no script")
        assert "revoked" in (await row.text_content() or "")
