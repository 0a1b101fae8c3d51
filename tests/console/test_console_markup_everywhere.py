"""Markup in every field people type, on every page each role reaches: an organization,
its people (names, company), a key, a requested model, a recharge note, a support
request, an alert rule and a channel are all named with markup; then each role's pages
(found by the crawl of `test_console_crawl`) are opened in Chromium, and none runs a
script or grows an element out of the markup, while the markup is shown as text."""

from __future__ import annotations

import secrets

import aiohttp
import httpx
from playwright.async_api import Browser

from aisonar.accounts import services as accounts
from aisonar.alerts.models import AlertKind, RuleSettings
from aisonar.alerts.services import create_rule
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.store.roles import Role
from aisonar.support.services import open_request
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY
from tests.console.people import MARKUP, PASSWORD, browsing_as, sign_in_over_http
from tests.console.test_console_crawl import crawl
from tests.console.test_console_escaping import INLINE_SCRIPTS
from tests.support import Backend, writer_drained


def expected_shown(org_id: str) -> dict[Role, set[str]]:
    """Pages whose content (beyond the header's name) must show the markup as text, so
    the test knows it looked where people typed."""
    org = f"/console/orgs/{org_id}"
    return {
        Role.USER: {
            "/console/keys",
            "/console/usage",
            "/console/billing",
            "/console/profile",
            "/console/support",
        },
        Role.ORG_ADMIN: {f"{org}/members", f"{org}/alerts", "/console/audit"},
        Role.OPERATOR: {
            "/console/operator/channels",
            "/console/operator/support",
            "/console/operator/orgs",
            "/console/operator/users",
        },
    }


async def seed_markup(backend: Backend, gateway: RunningGateway) -> tuple[str, dict[Role, str]]:
    """An organization where everything typed is markup: its id, and the email of a
    person of each role in it."""
    org_name = f"{MARKUP}{secrets.token_hex(4)}"
    emails = {role: f"markup-{role.value}-{secrets.token_hex(4)}@example.com" for role in Role}
    async with backend.engine.begin() as conn:
        org = await accounts.create_org(conn, org_name)
        people = {}
        for role, email in emails.items():
            people[role] = await accounts.create_user(
                conn, email, org_name, name=MARKUP, company=MARKUP, role=role, password=PASSWORD
            )
        await ledger.credit(
            conn, org.id, NewEntry(LedgerKind.RECHARGE, parse_amount("5"), "t", MARKUP)
        )
        _, secret = await accounts.create_key(conn, emails[Role.USER], name=MARKUP)
        await open_request(conn, people[Role.USER].id, MARKUP, MARKUP)
        await create_rule(conn, org.id, RuleSettings(AlertKind.COST, "1", window="1h", name=MARKUP))
        await channels.create_channel(
            conn,
            SecretBox(TEST_SECRET_KEY),
            name=MARKUP,
            provider="openai",
            base_url="http://127.0.0.1:9",
            api_key=UPSTREAM_KEY,
            models=f"markup-{secrets.token_hex(4)}=gpt-4o-mini",
        )
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            gateway.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {secret}"},
            json={"model": MARKUP, "messages": [{"role": "user", "content": "hi"}]},
        )
    assert refused.status_code >= 400
    await writer_drained(gateway)
    return org.id, emails


async def test_markup_in_every_field_stays_text_on_every_page(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    org_id, emails = await seed_markup(backend, gateway)
    expected = expected_shown(org_id)
    try:
        for role, email in emails.items():
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                await sign_in_over_http(http, gateway.url, email)
                pages = [
                    path
                    for path, status in (await crawl(http, gateway.url, role)).items()
                    if status == 200
                ]
            shown_on = await open_each(browser, gateway, email, pages)
            assert expected[role] <= shown_on, (role, expected[role] - shown_on)
    finally:
        async with backend.engine.begin() as conn:
            await channels.update_channel(conn, SecretBox(TEST_SECRET_KEY), MARKUP, enabled=False)


async def open_each(
    browser: Browser, gateway: RunningGateway, email: str, paths: list[str]
) -> set[str]:
    """The pages, opened in a browser as the person, whose content shows the markup as
    text; asserts no page made anything of it."""
    shown_on = set()
    async with browsing_as(browser, gateway.url, email) as seen:
        page = seen.page
        for path in paths:
            answer = await page.goto(gateway.url + path)
            assert answer is not None and answer.ok, path
            assert await page.locator("img[src=x]").count() == 0, path
            assert await page.locator(INLINE_SCRIPTS).count() == 0, path
            if MARKUP in (await page.locator("main").text_content() or ""):
                shown_on.add(path)
    return shown_on
