"""The notices inbox and the notification settings in the console: a person reads their
own notices (an admin also their organization's), newest first, a page at a time, each as
its email reads, and never another organization's; the settings persist, are audited, and
keep security notices always on."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser
from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.notify.notices import (
    BALANCE_LOW,
    KEY_CREATED,
    PASSWORD_CHANGED,
    RECHARGE_RECEIVED,
    Channel,
    record_notice,
)
from aisonar.notify.preferences import preferences
from aisonar.store.roles import Role
from aisonar.store.tables import audit_log, notices
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import fetch, signed_in, submit
from tests.console.people import (
    MARKUP,
    PASSWORD,
    browsing_as,
    console_person,
    screenshot,
)
from tests.support import Backend

NOTICES = "/console/notices"
SETTINGS = "/console/notices/settings"
_ROW = re.compile(r'<tr id="notice-(\d+)"')


def shown_ids(html: str) -> list[int]:
    return [int(found) for found in _ROW.findall(html)]


async def notice_ids(backend: Backend, **where: Any) -> list[int]:
    async with backend.engine.connect() as conn:
        query = select(notices.c.id).filter_by(**where).order_by(notices.c.id.desc())
        return [row.id for row in await conn.execute(query)]


async def test_the_inbox_shows_ones_own_notices_newest_first_in_pages(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    stranger = await console_person(backend.engine, role=Role.ORG_ADMIN)
    async with backend.engine.begin() as conn:
        for number in range(27):
            data = {"name": f"key {number}", "display_prefix": "sk-abc"}
            await record_notice(conn, admin.org_id, KEY_CREATED, data, user_id=admin.user_id)
        secret = {"name": "stranger's key", "display_prefix": "sk-zzz"}
        await record_notice(conn, stranger.org_id, KEY_CREATED, secret, stranger.user_id)
        await record_notice(
            conn, stranger.org_id, BALANCE_LOW, {"balance": "0.50", "threshold": "1.00"}
        )
    own = await notice_ids(backend, org_id=admin.org_id)
    # 27 of theirs and their organization's recharge (console_person credits 100).
    assert len(own) == 28
    http = await signed_in(gateway.url, admin.email)
    try:
        status, html = await fetch(http, gateway.url + NOTICES)
        assert status == 200
        assert shown_ids(html) == own[:25]
        assert "New API key created" in html and "key 26" in html
        assert "stranger" not in html and "Balance is running low" not in html
        older = f'href="{NOTICES}?before={own[24]}"'
        assert older in html
        status, html = await fetch(http, gateway.url + f"{NOTICES}?before={own[24]}")
        assert status == 200 and shown_ids(html) == own[25:]
        assert "Recharge received" in html and 'rel="next"' not in html
        # Another organization's notice id gives nothing of theirs.
        theirs = await notice_ids(backend, org_id=stranger.org_id)
        status, html = await fetch(http, gateway.url + f"{NOTICES}?before={theirs[0] + 1}")
        assert status == 200 and set(shown_ids(html)) <= set(own)
    finally:
        await http.close()

    # A plain user of the organization sees their own notices, not the organization's.
    async with backend.engine.begin() as conn:
        org_name = (await accounts.get_org(conn, admin.org_id)).name
        member = await accounts.create_user(
            conn, f"member-{org_name}@example.com", org_name, name="Member", password=PASSWORD
        )
        await record_notice(conn, admin.org_id, PASSWORD_CHANGED, {"sessions_ended": 0}, member.id)
    http = await signed_in(gateway.url, member.email)
    try:
        status, html = await fetch(http, gateway.url + NOTICES)
        [mine] = await notice_ids(backend, user_id=member.id)
        assert status == 200 and shown_ids(html) == [mine]
        assert "security" in html
    finally:
        await http.close()


async def test_notification_settings_persist_and_security_notices_stay_on(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    http = await signed_in(gateway.url, person.email)
    try:
        status, html = await fetch(http, gateway.url + SETTINGS)
        assert status == 200
        assert 'name="balance_low.email" value="on" checked' in html
        # Security notices cannot be switched: no field is sent for them.
        assert 'name="password_changed.email"' not in html
        assert 'id="password_changed-email" checked disabled' in html

        # Every box ticked but two; a forged field for a security notice is ignored.
        async with backend.engine.connect() as conn:
            before = await preferences(conn, person.user_id)
        fields = {
            f"{kind}.{channel.value}": "on"
            for kind, channels in before.kinds.items()
            for channel in channels
            if (kind, channel)
            not in {(BALANCE_LOW, Channel.EMAIL), (RECHARGE_RECEIVED, Channel.INBOX)}
        }
        status, location, _ = await submit(http, gateway.url, SETTINGS, SETTINGS, fields)
        assert (status, location) == (303, SETTINGS + "?saved=true")
        async with backend.engine.connect() as conn:
            after = await preferences(conn, person.user_id)
            [entry] = list(
                await conn.execute(
                    select(audit_log).where(
                        audit_log.c.object_id == person.user_id,
                        audit_log.c.action == "notification_settings.update",
                    )
                )
            )
        off = {
            (kind, channel)
            for kind, channels in after.kinds.items()
            for channel, on in channels.items()
            if not on
        }
        assert off == {(BALANCE_LOW, Channel.EMAIL), (RECHARGE_RECEIVED, Channel.INBOX)}
        assert entry.changes == {
            "balance_low.email": [True, False],
            "recharge_received.inbox": [True, False],
        }
        status, html = await fetch(http, gateway.url + location)
        assert 'name="balance_low.email" value="on" aria-label' in html
        assert 'id="done"' in html
        # Taken out of the inbox, the organization's recharge is no longer listed.
        status, html = await fetch(http, gateway.url + NOTICES)
        assert "Recharge received" not in html

        # Without the form's token, nothing changes.
        async with http.post(gateway.url + SETTINGS, data={}, allow_redirects=False) as forged:
            assert forged.status == 403
        async with backend.engine.connect() as conn:
            assert (await preferences(conn, person.user_id)).kinds == after.kinds
    finally:
        await http.close()


async def test_notices_and_their_settings_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        data = {"name": MARKUP, "display_prefix": "sk-abc"}
        await record_notice(conn, person.org_id, KEY_CREATED, data, user_id=person.user_id)
    async with browsing_as(browser, gateway.url, person.email, locale="en-US") as seen:
        page = seen.page
        inbox_link = page.locator(".main-nav a[href='/console/notices']")
        assert (await inbox_link.locator(".count").text_content()) == "1"
        await inbox_link.click()
        rows = page.locator("#notices-table tbody tr")
        assert await rows.count() == 1
        assert await page.locator("#notices-table tr.unread").count() == 1
        await rows.first.locator("summary").click()
        assert MARKUP in (await rows.first.locator(".policy-text").text_content() or "")
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "account-notices")
        # Marked read: no longer counted, in the table or the navigation.
        await page.click("form[action='/console/notices/read'] button")
        assert await page.locator("#notices-table tr.unread").count() == 0
        assert await inbox_link.locator(".count").count() == 0

        await page.click("main a[href='/console/notices/settings']")
        assert await page.locator("#password_changed-email").is_disabled()
        await page.uncheck("#key_expiring-email")
        await page.click("#settings-form button[type=submit]")
        assert await page.locator("#done").is_visible()
        assert not await page.locator("#key_expiring-email").is_checked()
        assert await page.locator("#key_expiring-inbox").is_checked()
        await screenshot(page, "account-notice-settings")
        async with backend.engine.connect() as conn:
            found = await preferences(conn, person.user_id)
        assert found.kinds["key_expiring"][Channel.EMAIL] is False
