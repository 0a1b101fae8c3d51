"""A forgotten password, reset in the console without signing in: every address gets the
same answer, the known one a mail whose link opens the page with its token; the new
password (typed twice, strong enough) is set through the API's own function, every
session ends, and the sign-in page says so; bad, used or mistyped input changes nothing."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import aiohttp
from playwright.async_api import Browser

from aisonar.accounts.login import password_principal
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.email_changes import audit_entries
from tests.api.test_password_reset import SUBJECT, loopback, token_for
from tests.console.forms import fetch, signed_in
from tests.console.people import PASSWORD, browsing, console_person, screenshot
from tests.console.test_console_account import NEW_PASSWORD
from tests.mailbox import Mailbox, bodies
from tests.support import Backend

RESET = "/console/reset-password"
CONFIRM = RESET + "/confirm"
LINK = re.compile(r"https?://\S+/console/reset-password\?token=\S+")
PAGE = re.compile(r"/console/[a-z-]+")


def from_address(ip: str) -> aiohttp.ClientSession:
    """A browser without a session, calling from its own address (the limits count per
    client address)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(ip, 0)),
        cookie_jar=aiohttp.CookieJar(unsafe=True),
    )


async def post(
    http: aiohttp.ClientSession, url: str, fields: dict[str, str]
) -> tuple[int, str, str]:
    async with http.post(url, data={"csrf_token": "", **fields}, allow_redirects=False) as answer:
        return answer.status, answer.headers.get("location", ""), await answer.text()


async def test_a_mailed_token_sets_a_new_password_once_and_ends_every_session(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await console_person(backend.engine)
    unknown = f"nobody-{person.org_id}@example.com"
    elsewhere = await signed_in(gateway.url, person.email)
    http = from_address(loopback())
    try:
        status, html = await fetch(http, gateway.url + RESET)
        assert status == 200 and 'action="/console/reset-password"' in html
        status, _, html = await post(http, gateway.url + RESET, {"email": "not an address"})
        assert status == 400 and 'value="not an address"' in html and 'role="alert"' in html

        answers = []
        for email in (unknown, person.email):
            answers.append(await post(http, gateway.url + RESET, {"email": email}))
        assert answers[0][:2] == answers[1][:2] == (303, RESET + "?sent=true")
        status, html = await fetch(http, gateway.url + RESET + "?sent=true")
        assert status == 200 and 'id="reset-sent"' in html
        token = await token_for(mailbox, person.email)
        assert mailbox.messages_to(unknown) == []

        status, html = await fetch(http, gateway.url + f"{RESET}?token={token}")
        assert status == 200 and f'name="token" value="{token}"' in html
        for fields, expected in (
            ({"new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD + "!"}, "differ"),
            ({"new_password": "short", "repeat_password": "short"}, 'role="alert"'),
        ):
            status, _, html = await post(http, gateway.url + CONFIRM, {"token": token, **fields})
            assert status == 400 and expected in html and f'value="{token}"' in html
        wrong = {"token": "sonar-reset-" + "x" * 43, "new_password": NEW_PASSWORD}
        status, _, html = await post(
            http, gateway.url + CONFIRM, {**wrong, "repeat_password": NEW_PASSWORD}
        )
        assert status == 400 and "unknown" in html
        async with backend.engine.connect() as conn:
            assert await password_principal(conn, person.email, PASSWORD) is not None
        assert (await fetch(elsewhere, gateway.url + "/console"))[0] == 200

        done = {"token": token, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
        status, location, _ = await post(http, gateway.url + CONFIRM, done)
        assert (status, location) == (303, "/console/sign-in?reset=done")
        status, html = await fetch(http, gateway.url + location)
        assert status == 200 and 'id="reset-done"' in html
        async with backend.engine.connect() as conn:
            assert await password_principal(conn, person.email, NEW_PASSWORD) is not None
        # Every session ended; the token works once.
        assert (await fetch(elsewhere, gateway.url + "/console"))[0] == 303
        status, _, html = await post(http, gateway.url + CONFIRM, done)
        assert status == 400 and "already used" in html
        [entry] = await audit_entries(backend.engine, person.user_id, "user.password_reset")
        assert entry.changes["sessions_ended"] == [None, 1]
    finally:
        await http.close()
        await elsewhere.close()


async def test_the_link_in_the_mail_opens_the_form_with_its_token(
    backend: Backend, mailbox: Mailbox
) -> None:
    person = await console_person(backend.engine)
    settings = backend.settings.model_copy(update={"public_url": "https://sonar.example.com"})
    async with running_gateway(settings) as gateway:
        http = from_address(loopback())
        try:
            status, _, _ = await post(http, gateway.url + RESET, {"email": person.email})
            assert status == 303
            [message] = await mailbox.wait_for(person.email)
            text, _ = bodies(message)
            [link] = LINK.findall(text)
            assert link.startswith("https://sonar.example.com/console/reset-password?token=")
            parts = urlsplit(link)
            status, html = await fetch(http, f"{gateway.url}{parts.path}?{parts.query}")
            token = parts.query.removeprefix("token=")
            assert status == 200 and f'name="token" value="{token}"' in html
        finally:
            await http.close()


async def test_a_forgotten_password_is_reset_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await console_person(backend.engine)
    async with browsing(browser, locale="en-US") as seen:
        page = seen.page
        await page.goto(gateway.url + "/console/sign-in")
        await page.click("a[href='/console/reset-password']")
        await page.fill("#reset-email", person.email)
        await page.click("#reset-form button[type=submit]")
        assert await page.locator("#reset-sent").is_visible()
        await screenshot(page, "account-reset")

        # The mail names the page and carries the token (this server has no public URL).
        [message] = await mailbox.wait_for(person.email)
        assert message["Subject"] == SUBJECT
        text, _ = bodies(message)
        token = await token_for(mailbox, person.email)
        assert RESET in PAGE.findall(text)
        await page.goto(f"{gateway.url}{RESET}?token={token}")
        await page.fill("#new-password", NEW_PASSWORD)
        await page.fill("#repeat-password", NEW_PASSWORD)
        await screenshot(page, "account-reset-new-password")
        await page.click("#new-password-form button[type=submit]")
        assert page.url == gateway.url + "/console/sign-in?reset=done"
        assert await page.locator("#reset-done").is_visible()

        await page.fill("#email", person.email)
        await page.fill("#password", NEW_PASSWORD)
        await page.click("form.stacked button[type=submit]")
        assert page.url == gateway.url + "/console"
        assert await page.locator(".who").is_visible()
