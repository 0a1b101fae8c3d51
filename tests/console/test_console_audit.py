"""The audit log page: an operator reads every organization's entries, an organization's
admin only their own organization's (on the page, in its pages and in its exports), a
user is refused; the filters (actor, action, object, days) narrow the page and the
downloads alike, pages follow one another without gaps or repeats; markup in an entry's
actor or changes stays text in Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from datetime import timedelta

from playwright.async_api import Browser
from sqlalchemy import select, update

from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.clock import utcnow
from aisonar.store.roles import Role
from aisonar.store.tables import audit_log
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import fetch, http_session
from tests.console.people import (
    MARKUP,
    ConsolePerson,
    browsing_as,
    console_person,
    screenshot,
    sign_in_over_http,
)
from tests.support import Backend

AUDIT = "/console/audit"
ENTRY = re.compile(r'<tr data-entry="(\d+)">')


async def record(
    backend: Backend,
    person: ConsolePerson,
    action: str,
    *,
    times: int = 1,
    actor: str | None = None,
    changes: dict[str, list[object]] | None = None,
) -> None:
    """Entries about `person` in their organization, as a service records them."""
    async with backend.engine.begin() as conn:
        for _ in range(times):
            await audit.record(
                conn,
                Actor(actor or person.email, person.user_id, "192.0.2.7"),
                action,
                object_kind="user",
                object_id=person.user_id,
                org_id=person.org_id,
                changes=changes or {"name": ["before", "after"]},
            )


async def test_an_org_admin_reads_only_their_organizations_entries(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    stranger = await console_person(backend.engine, role=Role.ORG_ADMIN)
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    action = f"test.{secrets.token_hex(3)}"
    await record(backend, admin, action, times=2)
    await record(backend, stranger, action, times=3)

    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, f"{gateway.url}{AUDIT}?action={action}")
        assert status == 200 and 'id="audit-table"' in html
        assert len(ENTRY.findall(html)) == 2
        assert admin.user_id in html and stranger.user_id not in html
        # Unfiltered too: nothing of the other organization, however far back.
        status, html = await fetch(http, gateway.url + AUDIT)
        assert stranger.user_id not in html and stranger.email not in html
        for fmt in ("jsonl", "csv"):
            async with http.get(f"{gateway.url}{AUDIT}/export?format={fmt}") as answer:
                assert answer.status == 200
                assert "attachment" in answer.headers["content-disposition"]
                body = await answer.text()
            if fmt == "jsonl":
                rows = [json.loads(line) for line in body.splitlines() if line]
                assert rows and {row["org_id"] for row in rows} == {admin.org_id}
                assert [row["action"] for row in rows].count(action) == 2
            else:
                table = list(csv.DictReader(io.StringIO(body)))
                assert table and {row["org_id"] for row in table} == {admin.org_id}
        # An object of another organization is not found through the filters either.
        status, html = await fetch(http, f"{gateway.url}{AUDIT}?object_id={stranger.user_id}")
        assert status == 200 and ENTRY.findall(html) == []

    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        status, html = await fetch(http, f"{gateway.url}{AUDIT}?action={action}")
        assert len(ENTRY.findall(html)) == 5
        assert admin.user_id in html and stranger.user_id in html


async def test_filters_pages_and_downloads_agree(gateway: RunningGateway, backend: Backend) -> None:
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    person = await console_person(backend.engine)
    other = await console_person(backend.engine)
    action = f"test.{secrets.token_hex(3)}"
    await record(backend, person, action, times=55)
    await record(backend, other, action, times=2, actor="someone-else@example.com")
    # Two of the person's entries were made ten days ago.
    async with backend.engine.begin() as conn:
        ids = await conn.execute(
            select(audit_log.c.id)
            .where(audit_log.c.action == action, audit_log.c.object_id == person.user_id)
            .order_by(audit_log.c.id)
            .limit(2)
        )
        await conn.execute(
            update(audit_log)
            .where(audit_log.c.id.in_(list(ids.scalars())))
            .values(at=utcnow() - timedelta(days=10))
        )
    ten_days_ago = (utcnow() - timedelta(days=10)).date().isoformat()

    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        status, html = await fetch(http, f"{gateway.url}{AUDIT}?action={action}")
        first = ENTRY.findall(html)
        assert len(first) == 50 and first == sorted(first, key=int, reverse=True)
        # The download form carries the filter.
        exports = html[html.index('id="audit-exports"') :]
        assert f'name="action" value="{action}"' in exports[: exports.index("</form>")]
        older = re.search(r'<a href="([^"]+)" rel="next">', html)
        assert older is not None
        status, html = await fetch(http, gateway.url + older.group(1).replace("&amp;", "&"))
        second = ENTRY.findall(html)
        assert len(second) == 7 and not set(first) & set(second)
        assert 'rel="next"' not in html and f'href="{AUDIT}?action={action}"' in html

        by_actor = f"{gateway.url}{AUDIT}?action={action}&actor=someone-else@example.com"
        assert len(ENTRY.findall((await fetch(http, by_actor))[1])) == 2
        by_object = f"{gateway.url}{AUDIT}?object_kind=user&object_id={person.user_id}"
        assert len(ENTRY.findall((await fetch(http, by_object + f"&action={action}"))[1])) == 50
        by_days = f"{gateway.url}{AUDIT}?action={action}&since={ten_days_ago}&until={ten_days_ago}"
        status, html = await fetch(http, by_days)
        assert len(ENTRY.findall(html)) == 2 and f'value="{ten_days_ago}"' in html
        async with http.get(
            f"{gateway.url}{AUDIT}/export?format=jsonl&action={action}&until={ten_days_ago}"
        ) as answer:
            rows = [json.loads(line) for line in (await answer.text()).splitlines()]
        assert len(rows) == 2 and rows[0]["id"] < rows[1]["id"]
        async with http.get(
            f"{gateway.url}{AUDIT}/export?format=csv&action={action}&object_id={other.user_id}"
        ) as answer:
            table = list(csv.DictReader(io.StringIO(await answer.text())))
        assert [row["actor"] for row in table] == ["someone-else@example.com"] * 2

        # A bad day re-renders the filters as typed, with the error.
        status, html = await fetch(http, f"{gateway.url}{AUDIT}?action={action}&since=someday")
        assert status == 400 and 'class="error"' in html and 'value="someday"' in html
        status, html = await fetch(
            http, f"{gateway.url}{AUDIT}?since={ten_days_ago}&until=2001-01-01"
        )
        assert status == 400 and ENTRY.findall(html) == []


async def test_a_user_is_refused(gateway: RunningGateway, backend: Backend) -> None:
    user = await console_person(backend.engine)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, user.email)
        for path in (AUDIT, AUDIT + "/export?format=csv"):
            status, body = await fetch(http, gateway.url + path)
            assert status == 403 and "data-entry" not in body


async def test_markup_in_an_entry_stays_text(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    action = f"test.{secrets.token_hex(3)}"
    await record(
        backend,
        admin,
        action,
        actor=MARKUP,
        changes={"name": [MARKUP, {"nested": MARKUP}], MARKUP: [None, 1]},
    )
    async with browsing_as(browser, gateway.url, admin.email, locale="en-US") as seen:
        page = seen.page
        await page.click(".cookie-banner button[value=no]")
        await page.click(f"nav.main-nav a[href='{AUDIT}']")
        await page.wait_for_url(gateway.url + AUDIT)
        await page.fill("#filter-action", action)
        await page.click("#audit-filters button[type=submit]")
        await page.wait_for_url(re.compile(".*action=.*"))
        row = page.locator("#audit-table tbody tr")
        assert await row.count() == 1
        text = await row.inner_text()
        assert text.count(MARKUP) >= 3
        assert await page.locator("img[src=x]").count() == 0
        assert await page.locator("#audit-table script").count() == 0
        await screenshot(page, "audit")
