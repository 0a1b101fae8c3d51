"""An org admin runs their organization in Chromium: from the navigation to the overview
(its cost chart drawn from the page's data), adds a member named with markup, changes
their role, disables them, reads the limits and creates an alert rule named with markup;
the markup stays text, no dialog opens and no page breaks its Content-Security-Policy."""

from __future__ import annotations

import secrets

from playwright.async_api import Browser

from aisonar.accounts import services as accounts
from aisonar.alerts import services as alerts
from aisonar.clock import utcnow
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.compaction import compact
from tests.console.forms import make_a_request
from tests.console.people import (
    MARKUP,
    PASSWORD,
    browsing_as,
    console_person,
    screenshot,
)
from tests.support import Backend


async def test_an_admin_runs_their_organization_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, name="Grace Admin", role=Role.ORG_ADMIN)
    await make_a_request(gateway, backend, admin.email)
    async with backend.engine.begin() as conn:
        await compact(conn, utcnow())

    home = f"{gateway.url}/console/orgs/{admin.org_id}"
    async with browsing_as(browser, gateway.url, admin.email, locale="en-US") as seen:
        page = seen.page

        # The navigation leads to the overview; the chart is drawn beside its table.
        await page.click("nav.main-nav a[href='/console/org']")
        await page.wait_for_url(home)
        await page.wait_for_selector("canvas[data-chart=cost][data-drawn=true]")
        assert await page.locator("#member-spend-table").get_by_text("Grace Admin").count() == 1
        await screenshot(page, "org-overview")

        # A member is added, named with markup, and lands on their page.
        await page.click("nav[aria-label='Organization pages'] >> text=Members")
        await page.wait_for_url(home + "/members")
        email = f"browser-{secrets.token_hex(4)}@example.com"
        await page.fill("#member-email", email)
        await page.fill("#member-name", MARKUP)
        await page.select_option("#member-role", "org_admin")
        await page.fill("#member-password", PASSWORD)
        await page.click("form[action$='/members'] button[type=submit]")
        async with backend.engine.connect() as conn:
            added = await accounts.get_user_by_email(conn, email)
        await page.wait_for_url(f"{home}/members/{added.id}")
        assert await page.locator("h1").text_content() == MARKUP
        assert (await page.locator("#member-role").text_content() or "") == "organization admin"
        await screenshot(page, "org-member")

        # Their role goes back to user, then they are disabled.
        await page.select_option("#new-role", "user")
        await page.click("#role-form button[type=submit]")
        await page.wait_for_url(f"{home}/members/{added.id}")
        assert (await page.locator("#member-role").text_content() or "") == "user"
        await page.click("#state-form button[type=submit]")
        await page.wait_for_url(f"{home}/members/{added.id}")
        assert (await page.locator("#member-state").text_content() or "") == "disabled"
        async with backend.engine.connect() as conn:
            changed = await accounts.get_user(conn, added.id)
        assert (changed.role, changed.disabled) == ("user", True)

        await page.goto(home + "/members")
        row = page.locator("#members-table tr", has_text=email)
        assert MARKUP in (await row.text_content() or "")
        assert "disabled" in (await row.text_content() or "")
        await screenshot(page, "org-members")

        await page.click("nav[aria-label='Organization pages'] >> text=Limits")
        await page.wait_for_url(home + "/limits")
        assert await page.locator("#org-limits").count() == 1
        await screenshot(page, "org-limits")

        # An alert rule, named with markup.
        await page.click("nav[aria-label='Organization pages'] >> text=Alert rules")
        await page.wait_for_url(home + "/alerts")
        await page.fill("#alert-name", MARKUP)
        await page.select_option("#alert-kind", "cost")
        await page.fill("#alert-threshold", "5")
        await page.fill("#alert-window", "1h")
        await page.click("#alert-form button[type=submit]")
        await page.wait_for_url(home + "/alerts")
        assert MARKUP in (await page.locator("#alerts-table").text_content() or "")
        async with backend.engine.connect() as conn:
            [rule] = await alerts.list_rules(conn, admin.org_id)
        assert (rule.name, rule.kind, rule.window_s) == (MARKUP, "cost", 3600)
        await screenshot(page, "org-alerts")

        assert await page.locator("img[src=x]").count() == 0
    assert seen.errors == []
