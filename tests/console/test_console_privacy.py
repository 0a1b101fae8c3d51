"""The console's privacy center: a person downloads the ZIP of their own data (in a browser,
through the page's button, and over plain HTTP; never anyone else's, and no more than the
hourly allowance), gives and withdraws consent (persisted, and the consent cookie set to
match), sees the current policies with the version they acknowledged, and asks for their
account to be deleted: a wrong password changes nothing, the right one disables the
account, revokes its keys and signs them out."""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from typing import Any

import aiohttp
from playwright.async_api import Browser
from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.accounts.sessions import COOKIE_NAME
from aisonar.privacy.consents import current_choices
from aisonar.privacy.cookies import CONSENT_COOKIE
from aisonar.privacy.policies import PolicyKind, publish_policy
from aisonar.store.tables import api_keys, audit_log, consents, deletion_requests, sessions
from aisonar.support.services import open_request
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import fetch, http_session, signed_in
from tests.console.people import (
    MARKUP,
    PASSWORD,
    browsing_as,
    console_person,
    csrf_token_in,
    screenshot,
)
from tests.support import Backend

PRIVACY = "/console/privacy"


async def post(
    http: aiohttp.ClientSession,
    url: str,
    action: str,
    fields: dict[str, str],
    *,
    token: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    """The form posted (with the privacy page's CSRF token unless `token` is false):
    status, headers, body."""
    form = dict(fields)
    if token:
        _, html = await fetch(http, url + PRIVACY)
        form["csrf_token"] = csrf_token_in(html)
    async with http.post(url + action, data=form, allow_redirects=False) as answer:
        return answer.status, dict(answer.headers), await answer.read()


def archive_of(body: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(body))


def document(archive: zipfile.ZipFile, name: str) -> Any:
    return json.loads(archive.read(name))


async def exports_recorded(backend: Backend, user_id: str) -> int:
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.id).where(
                audit_log.c.action == "user.export", audit_log.c.object_id == user_id
            )
        )
        return len(list(rows))


async def test_the_export_holds_the_persons_own_data_and_is_limited(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    stranger = await console_person(backend.engine, name="Stranger Danger")
    async with backend.engine.begin() as conn:
        await open_request(conn, person.user_id, "Mine, exported", "A question of mine")
        await open_request(conn, stranger.user_id, "Not theirs", "A stranger's question")
    http = await signed_in(gateway.url, person.email)
    try:
        status, html = await fetch(http, gateway.url + PRIVACY)
        assert status == 200 and 'action="/console/privacy/export"' in html
        # A form from elsewhere exports nothing.
        status, _, _ = await post(http, gateway.url, PRIVACY + "/export", {}, token=False)
        assert status == 403
        assert await exports_recorded(backend, person.user_id) == 0

        status, headers, body = await post(http, gateway.url, PRIVACY + "/export", {})
        assert status == 200 and headers["Content-Type"] == "application/zip"
        assert f"aisonar-export-{person.user_id}-" in headers["Content-Disposition"]
        archive = archive_of(body)
        assert archive.namelist()[0] == "README.txt"
        assert document(archive, "profile.json")["email"] == person.email
        [mine] = document(archive, "support_requests.json")
        assert mine["subject"] == "Mine, exported"
        everything = b"".join(archive.read(name) for name in archive.namelist())
        for theirs in (stranger.email, stranger.user_id, b"Not theirs"):
            assert (theirs if isinstance(theirs, bytes) else theirs.encode()) not in everything
        assert await exports_recorded(backend, person.user_id) == 1

        # The hourly allowance is the API's: past it, the page says when to try again.
        allowance = backend.settings.exports_per_hour
        for _ in range(allowance - 1):
            status, _, _ = await post(http, gateway.url, PRIVACY + "/export", {})
            assert status == 200
        status, headers, body = await post(http, gateway.url, PRIVACY + "/export", {})
        assert status == 429 and int(headers["Retry-After"]) > 0
        assert b'role="alert"' in body and b"Too many data exports" in body
        assert await exports_recorded(backend, person.user_id) == allowance
    finally:
        await http.close()


async def consent_rows(backend: Backend, user_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(consents).where(consents.c.user_id == user_id).order_by(consents.c.id)
        return list(await conn.execute(query))


async def test_consents_are_given_and_withdrawn_and_policies_show_what_was_acknowledged(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        policy = await publish_policy(
            conn, PolicyKind.PRIVACY, f"We keep little. ({secrets.token_hex(4)})"
        )
    http = await signed_in(gateway.url, person.email)
    action = PRIVACY + "/consents/analytics"
    try:
        status, html = await fetch(http, gateway.url + PRIVACY)
        assert status == 200 and "Give consent" in html and "Withdraw consent" not in html
        assert f"version {policy.version}, published" in html
        assert f'action="/console/policies/{policy.id}/acknowledge"' in html

        # Refused: no token, an answer that is neither yes nor no, an unknown purpose.
        assert (await post(http, gateway.url, action, {"granted": "yes"}, token=False))[0] == 403
        assert (await post(http, gateway.url, action, {"granted": "maybe"}))[0] == 400
        unknown = PRIVACY + "/consents/marketing"
        assert (await post(http, gateway.url, unknown, {"granted": "yes"}))[0] == 404
        assert await consent_rows(backend, person.user_id) == []

        status, headers, _ = await post(http, gateway.url, action, {"granted": "yes"})
        assert (status, headers["Location"]) == (303, PRIVACY + "?done=consent#consents")
        assert f"{CONSENT_COOKIE}=analytics" in headers["Set-Cookie"]
        async with backend.engine.connect() as conn:
            assert await current_choices(conn, person.user_id) == {"analytics": True}
        status, html = await fetch(http, gateway.url + PRIVACY + "?done=consent")
        assert 'id="done"' in html and "Withdraw consent" in html

        status, headers, _ = await post(http, gateway.url, action, {"granted": "no"})
        assert status == 303 and f"{CONSENT_COOKIE}=necessary" in headers["Set-Cookie"]
        async with backend.engine.connect() as conn:
            assert await current_choices(conn, person.user_id) == {"analytics": False}
        rows = await consent_rows(backend, person.user_id)
        assert [(row.purpose, row.granted, row.policy_id) for row in rows] == [
            ("analytics", True, policy.id),
            ("analytics", False, policy.id),
        ]

        # The policy acknowledged from the page: the version and when.
        _, html = await fetch(http, gateway.url + PRIVACY)
        fields = {"csrf_token": csrf_token_in(html), "next": PRIVACY}
        acknowledge = f"{gateway.url}/console/policies/{policy.id}/acknowledge"
        async with http.post(acknowledge, data=fields, allow_redirects=False) as answer:
            assert (answer.status, answer.headers["Location"]) == (303, PRIVACY)
        _, html = await fetch(http, gateway.url + PRIVACY)
        assert f"version {policy.version}, on" in html
        assert f'action="/console/policies/{policy.id}/acknowledge"' not in html

        # The page in Chinese, once the person chooses it.
        fields = {"csrf_token": csrf_token_in(html), "language": "zh-Hans", "next": PRIVACY}
        async with http.post(
            gateway.url + "/console/language", data=fields, allow_redirects=False
        ) as answer:
            assert answer.status == 303
        status, html = await fetch(http, gateway.url + PRIVACY)
        assert status == 200 and "下载您的数据" in html and f"版本 {policy.version}" in html
    finally:
        await http.close()


async def deletion_requests_of(backend: Backend, user_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(deletion_requests).where(deletion_requests.c.user_id == user_id)
        return list(await conn.execute(query))


async def test_a_deletion_request_needs_the_password_then_disables_and_signs_out(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        key, _ = await accounts.create_key(conn, person.email, name="leaving")
    http = await signed_in(gateway.url, person.email)
    elsewhere = await signed_in(gateway.url, person.email)
    action = PRIVACY + "/deletion"
    try:
        for fields, expected in (
            ({"password": "not-my-password", "reason": MARKUP}, 400),
            ({"password": "", "reason": "no password"}, 400),
        ):
            status, _, body = await post(http, gateway.url, action, fields)
            assert status == expected and b'role="alert"' in body
            html = body.decode()
            assert MARKUP not in html
            if fields["reason"] == MARKUP:
                assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        forged = {"password": PASSWORD, "reason": "forged"}
        assert (await post(http, gateway.url, action, forged, token=False))[0] == 403
        assert await deletion_requests_of(backend, person.user_id) == []
        async with backend.engine.connect() as conn:
            assert (await accounts.get_user(conn, person.user_id)).disabled is False
        assert (await fetch(elsewhere, gateway.url + "/console"))[0] == 200

        fields = {"password": PASSWORD, "reason": "  moving on  "}
        status, headers, _ = await post(http, gateway.url, action, fields)
        assert (status, headers["Location"]) == (303, PRIVACY + "/deletion-requested")
        assert (
            headers["Set-Cookie"].startswith(f"{COOKIE_NAME}=")
            and "Max-Age=0" in headers["Set-Cookie"]
        )
        [asked] = await deletion_requests_of(backend, person.user_id)
        assert (asked.status, asked.reason) == ("requested", "moving on")
        async with backend.engine.connect() as conn:
            assert (await accounts.get_user(conn, person.user_id)).disabled is True
            revoked = await conn.execute(
                select(api_keys.c.revoked_at).where(api_keys.c.id == key.id)
            )
            assert revoked.scalar_one() is not None
            left = await conn.execute(
                select(sessions.c.ended_at).where(sessions.c.user_id == person.user_id)
            )
            assert [row.ended_at is not None for row in left] == [True, True]
        status, html = await fetch(http, gateway.url + PRIVACY + "/deletion-requested")
        assert status == 200 and 'id="deletion-received"' in html
        assert "/console/sign-out" not in html
        # Every session is over, and signing in again is refused.
        for session in (http, elsewhere):
            status, _ = await fetch(session, gateway.url + PRIVACY)
            assert status == 303
        again = {"email": person.email, "password": PASSWORD, "next": "/console"}
        async with http_session() as fresh:
            sign_in = gateway.url + "/console/sign-in"
            async with fresh.post(sign_in, data=again, allow_redirects=False) as answer:
                assert answer.status == 401
    finally:
        await http.close()
        await elsewhere.close()


async def test_a_person_downloads_their_data_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine, name=MARKUP)
    async with backend.engine.begin() as conn:
        await open_request(conn, person.user_id, "Exported from the browser", "Hello")
    async with browsing_as(
        browser, gateway.url, person.email, locale="en-US", accept_downloads=True
    ) as seen:
        page = seen.page
        await page.click(".main-nav a[href='/console/privacy']")
        assert page.url == gateway.url + PRIVACY
        await screenshot(page, "privacy-center")

        # The archive is made on asking; the download starts once it is ready.
        async with page.expect_download() as waiting:
            await page.click("#export-form button[type=submit]")
        download = await waiting.value
        assert download.suggested_filename.startswith(f"aisonar-export-{person.user_id}-")
        path = await download.path()
        with zipfile.ZipFile(path) as archive:
            profile = json.loads(archive.read("profile.json"))
            assert (profile["email"], profile["name"]) == (person.email, MARKUP)
            [asked] = json.loads(archive.read("support_requests.json"))
            assert asked["subject"] == "Exported from the browser"
            assert "README.txt" in archive.namelist()
        assert page.url == gateway.url + PRIVACY
        assert await exports_recorded(backend, person.user_id) == 1

        # Consent given and withdrawn from the page, the footer's choice following it.
        await page.click("#consent-analytics button[type=submit]")
        assert (
            await page.locator("#consent-analytics .consent-state").text_content() or ""
        ).strip() == "given"
        assert {c["name"]: c["value"] for c in await seen.context.cookies()}[
            CONSENT_COOKIE
        ] == "analytics"
        await page.click("#consent-analytics button[type=submit]")
        assert (
            await page.locator("#consent-analytics .consent-state").text_content() or ""
        ).strip() == "not given"
        async with backend.engine.connect() as conn:
            assert await current_choices(conn, person.user_id) == {"analytics": False}
        assert await page.locator("img[src=x]").count() == 0


async def test_a_person_asks_for_deletion_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with browsing_as(browser, gateway.url, person.email, locale="en-US") as seen:
        page = seen.page
        await page.goto(gateway.url + PRIVACY)

        # A wrong password: the page says so, keeps the reason as text, changes nothing.
        await page.fill("#deletion-password", "not-my-password")
        await page.fill("#deletion-reason", MARKUP)
        await page.click("#deletion-form button[type=submit]")
        assert await page.locator("#deletion .error").is_visible()
        assert await page.input_value("#deletion-reason") == MARKUP
        assert await page.locator("img[src=x]").count() == 0
        assert await deletion_requests_of(backend, person.user_id) == []
        async with backend.engine.connect() as conn:
            assert (await accounts.get_user(conn, person.user_id)).disabled is False

        await page.fill("#deletion-password", PASSWORD)
        await page.fill("#deletion-reason", "Leaving for good")
        await page.click("#deletion-form button[type=submit]")
        assert page.url == gateway.url + PRIVACY + "/deletion-requested"
        assert await page.locator("#deletion-received").is_visible()
        assert await page.locator(".main-nav").count() == 0
        await screenshot(page, "privacy-deletion-requested")
        [asked] = await deletion_requests_of(backend, person.user_id)
        assert (asked.status, asked.reason) == ("requested", "Leaving for good")
        async with backend.engine.connect() as conn:
            assert (await accounts.get_user(conn, person.user_id)).disabled is True
        # Signed out: the privacy page sends the browser to sign in.
        await page.goto(gateway.url + PRIVACY)
        assert page.url.startswith(gateway.url + "/console/sign-in")
