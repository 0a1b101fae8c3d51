"""The console's profile: a person corrects their name, company and language (persisted,
audited and told as `PATCH /api/me` does), changes their email address through the code
mailed to the new one, and their password (the other sessions end, and the page says how
many); creates personal access tokens only once the session proved its password
recently, and revokes them. Wrong passwords, bad input and other people's tokens change
nothing; what people type is shown as text."""

from __future__ import annotations

from typing import Any

import aiohttp
from playwright.async_api import Browser
from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.accounts.login import password_principal
from aisonar.notify.notices import PROFILE_CHANGED
from aisonar.store.tables import access_tokens, email_changes, notices
from aisonar.testing.gateway_server import RunningGateway
from tests.api.email_changes import audit_entries, code_in, fresh_address
from tests.console.forms import fetch, prove_long_ago, signed_in, submit
from tests.console.people import (
    MARKUP,
    PASSWORD,
    browsing_as,
    console_person,
    screenshot,
)
from tests.mailbox import Mailbox
from tests.support import Backend

NEW_PASSWORD = "Copper-Lantern-Harbor-58"
PROFILE = "/console/profile"
TOKENS = "/console/profile/tokens"


async def person_row(backend: Backend, user_id: str) -> Any:
    async with backend.engine.connect() as conn:
        return await accounts.get_user(conn, user_id)


async def test_profile_details_persist_are_audited_and_told(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    http = await signed_in(gateway.url, person.email)
    try:
        status, html = await fetch(http, gateway.url + PROFILE)
        assert status == 200 and 'value="Ada Console"' in html and person.email in html
        # Refused input changes nothing: an empty name, a control character, no token.
        for fields in (
            {"name": "", "company": "Navy", "language": "en"},
            {"name": "Grace\x07", "company": "Navy", "language": "en"},
            {"name": "Grace", "company": "Navy", "language": "klingon"},
        ):
            status, _, html = await submit(http, gateway.url, PROFILE, PROFILE, fields)
            assert status == 400, fields
            assert 'role="alert"' in html and f'value="{fields["company"]}"' in html
        async with http.post(
            gateway.url + PROFILE,
            data={"name": "Forged", "company": "", "language": "en"},
            allow_redirects=False,
        ) as forged:
            assert forged.status == 403
        unchanged = await person_row(backend, person.user_id)
        assert (unchanged.name, unchanged.company) == ("Ada Console", None)
        assert await audit_entries(backend.engine, person.user_id, "user.update") == []

        fields = {"name": "  Grace Hopper ", "company": "Navy", "language": "zh-Hans"}
        status, location, _ = await submit(http, gateway.url, PROFILE, PROFILE, fields)
        assert (status, location) == (303, PROFILE + "?done=details")
        changed = await person_row(backend, person.user_id)
        assert (changed.name, changed.company, changed.language) == (
            "Grace Hopper",
            "Navy",
            "zh-Hans",
        )
        [entry] = await audit_entries(backend.engine, person.user_id, "user.update")
        assert (entry.actor, entry.actor_user_id) == (person.email, person.user_id)
        assert entry.changes == {
            "name": ["Ada Console", "Grace Hopper"],
            "company": [None, "Navy"],
            "language": ["en", "zh-Hans"],
        }
        async with backend.engine.connect() as conn:
            told = await conn.execute(
                select(notices.c.data).where(
                    notices.c.user_id == person.user_id, notices.c.kind == PROFILE_CHANGED
                )
            )
            assert [row.data for row in told] == [{"fields": ["company", "name"]}]
        async with http.get(gateway.url + location) as shown:
            html = await shown.text()
            assert shown.headers["Content-Language"] == "zh-Hans"
            assert 'value="Grace Hopper"' in html and 'id="done"' in html
        # An empty company clears it.
        fields = {"name": "Grace Hopper", "company": "", "language": "en"}
        assert (await submit(http, gateway.url, PROFILE, PROFILE, fields))[0] == 303
        assert (await person_row(backend, person.user_id)).company is None
    finally:
        await http.close()


async def test_a_password_change_needs_the_current_one_and_ends_the_other_sessions(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    here = await signed_in(gateway.url, person.email)
    there = await signed_in(gateway.url, person.email)
    action = PROFILE + "/password"
    try:
        for fields, expected in (
            ({"current_password": "wrong-password", "new_password": NEW_PASSWORD}, 400),
            ({"current_password": PASSWORD, "new_password": "short"}, 400),
        ):
            fields["repeat_password"] = fields["new_password"]
            status, _, html = await submit(here, gateway.url, PROFILE, action, fields)
            assert status == expected and 'role="alert"' in html
        differ = {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD + "x",
        }
        status, _, html = await submit(here, gateway.url, PROFILE, action, differ)
        assert status == 400 and "The new password and its repetition differ." in html
        async with backend.engine.connect() as conn:
            assert await password_principal(conn, person.email, PASSWORD) is not None
        assert (await fetch(there, gateway.url + "/console"))[0] == 200
        assert await audit_entries(backend.engine, person.user_id, "user.password_change") == []

        fields = {**differ, "repeat_password": NEW_PASSWORD}
        status, location, _ = await submit(here, gateway.url, PROFILE, action, fields)
        assert (status, location) == (303, PROFILE + "?done=password&ended=1")
        status, html = await fetch(here, gateway.url + location)
        assert status == 200 and "1 other session was signed out." in html
        # The other session is over; this one stays.
        status, _ = await fetch(there, gateway.url + "/console")
        assert status == 303
        async with backend.engine.connect() as conn:
            assert await password_principal(conn, person.email, NEW_PASSWORD) is not None
            assert await password_principal(conn, person.email, PASSWORD) is None
        [entry] = await audit_entries(backend.engine, person.user_id, "user.password_change")
        assert entry.changes["sessions_ended"] == [None, 1]
    finally:
        await here.close()
        await there.close()


async def test_the_email_changes_once_the_mailed_code_comes_back(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await console_person(backend.engine)
    here = await signed_in(gateway.url, person.email)
    there = await signed_in(gateway.url, person.email)
    new = fresh_address()
    try:
        fields = {"email": new, "password": "not-my-password"}
        status, _, html = await submit(here, gateway.url, PROFILE, PROFILE + "/email", fields)
        assert status == 400 and f'value="{new}"' in html
        fields = {"email": "not an address", "password": PASSWORD}
        status, _, _ = await submit(here, gateway.url, PROFILE, PROFILE + "/email", fields)
        assert status == 400
        async with backend.engine.connect() as conn:
            query = select(email_changes).where(email_changes.c.user_id == person.user_id)
            assert (await conn.execute(query)).first() is None
        assert mailbox.messages_to(new) == []

        fields = {"email": new, "password": PASSWORD}
        status, location, _ = await submit(here, gateway.url, PROFILE, PROFILE + "/email", fields)
        assert (status, location) == (303, PROFILE + "?done=email-sent")
        code = code_in(mailbox, new)
        status, html = await fetch(here, gateway.url + location)
        assert status == 200 and 'id="email-pending"' in html and new in html

        verify = PROFILE + "/email/verify"
        wrong = {"code": "sonar-email-" + "x" * 43}
        status, _, html = await submit(here, gateway.url, PROFILE, verify, wrong)
        assert status == 400 and 'id="email-pending"' in html
        assert (await person_row(backend, person.user_id)).email == person.email

        status, location, _ = await submit(here, gateway.url, PROFILE, verify, {"code": code})
        assert (status, location) == (303, PROFILE + "?done=email-changed")
        assert (await person_row(backend, person.user_id)).email == new
        status, html = await fetch(here, gateway.url + location)
        assert status == 200 and 'id="email-pending"' not in html and new in html
        assert (await fetch(there, gateway.url + "/console"))[0] == 303
        actions = ("user.email_change_request", "user.email_change")
        assert [
            e.action for e in await audit_entries(backend.engine, person.user_id, *actions)
        ] == [
            "user.email_change_request",
            "user.email_change",
        ]
    finally:
        await here.close()
        await there.close()


async def token_rows(backend: Backend, user_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(access_tokens).where(access_tokens.c.user_id == user_id)
        return list(await conn.execute(query))


async def test_a_token_needs_a_recent_password_and_only_its_owner_revokes_it(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    stranger = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        theirs, _ = await tokens.create_token(conn, stranger.email, name="theirs")
    http = await signed_in(gateway.url, person.email)
    try:
        # Just signed in: no password asked.
        status, html = await fetch(http, gateway.url + TOKENS)
        assert status == 200 and 'name="current_password"' not in html
        await prove_long_ago(backend, person.user_id)
        status, html = await fetch(http, gateway.url + TOKENS)
        assert 'name="current_password"' in html
        for password, expected in (("", 403), ("not-my-password", 400)):
            fields = {"name": "ci", "expires": "", "current_password": password}
            status, _, html = await submit(http, gateway.url, TOKENS, TOKENS, fields)
            assert status == expected and 'value="ci"' in html
        past = {"name": "ci", "expires": "2000-01-01", "current_password": PASSWORD}
        assert (await submit(http, gateway.url, TOKENS, TOKENS, past))[0] == 400
        assert await token_rows(backend, person.user_id) == []

        fields = {"name": "ci", "expires": "", "current_password": PASSWORD}
        status, _, html = await submit(http, gateway.url, TOKENS, TOKENS, fields)
        assert status == 201
        secret = html.split('<code id="token-secret">')[1].split("</code>")[0]
        assert secret.startswith("sonar-pat-")
        async with aiohttp.ClientSession() as api:
            bearer = {"Authorization": f"Bearer {secret}"}
            async with api.get(gateway.url + "/api/me", headers=bearer) as me:
                assert me.status == 200 and (await me.json())["email"] == person.email
        [row] = await token_rows(backend, person.user_id)
        assert row.name == "ci" and row.revoked_at is None
        # Proved now: the next token needs no password.
        status, html = await fetch(http, gateway.url + TOKENS)
        assert 'name="current_password"' not in html and f"/tokens/{row.id}/revoke" in html

        # Someone else's token is not found, and stays.
        status, _ = await fetch(http, gateway.url + f"{TOKENS}/{theirs.id}/revoke")
        assert status == 404
        status, _, _ = await submit(http, gateway.url, TOKENS, f"{TOKENS}/{theirs.id}/revoke", {})
        assert status == 404
        [kept] = await token_rows(backend, stranger.user_id)
        assert kept.revoked_at is None

        revoke = f"{TOKENS}/{row.id}/revoke"
        status, html = await fetch(http, gateway.url + revoke)
        assert status == 200 and "Revoke the token" in html
        status, location, _ = await submit(http, gateway.url, revoke, revoke, {})
        assert (status, location) == (303, TOKENS)
        [revoked] = await token_rows(backend, person.user_id)
        assert revoked.revoked_at is not None
        async with (
            aiohttp.ClientSession() as api,
            api.get(gateway.url + "/api/me", headers=bearer) as me,
        ):
            assert me.status == 401
    finally:
        await http.close()


async def test_a_person_edits_their_profile_and_makes_a_token_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with browsing_as(browser, gateway.url, person.email, locale="en-US") as seen:
        page = seen.page
        await page.click(".main-nav a[href='/console/profile']")
        assert page.url == gateway.url + PROFILE

        # Markup typed as a name and company stays text, in the form and the header.
        await page.fill("#profile-name", MARKUP)
        await page.fill("#profile-company", MARKUP)
        await page.click("#details-form button[type=submit]")
        assert page.url == gateway.url + PROFILE + "?done=details"
        assert await page.locator("#done").is_visible()
        assert await page.input_value("#profile-name") == MARKUP
        assert await page.input_value("#profile-company") == MARKUP
        assert MARKUP in (await page.locator(".who").text_content() or "")
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "account-profile")

        # The password: the other sessions end, this one stays.
        await page.fill("#password-current", PASSWORD)
        await page.fill("#password-new", NEW_PASSWORD)
        await page.fill("#password-repeat", NEW_PASSWORD)
        await page.click("#password-form button[type=submit]")
        assert "Your password is changed." in (await page.locator("#done").text_content() or "")

        # A token, asked for the password once the last proof is old.
        await prove_long_ago(backend, person.user_id)
        await page.click("a[href='/console/profile/tokens']")
        await page.fill("#token-name", MARKUP)
        await page.fill("#current-password", NEW_PASSWORD)
        await page.click("#token-form button[type=submit]")
        secret = (await page.locator("#token-secret").text_content() or "").strip()
        assert secret.startswith("sonar-pat-")
        assert await page.locator("button[data-copy=token-secret]").is_visible()
        await page.click("a[href='/console/profile/tokens']")
        assert MARKUP in (await page.locator("#tokens-table").text_content() or "")
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "account-tokens")
