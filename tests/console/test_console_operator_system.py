"""Operators' system pages end to end: in Chromium an operator approves a deletion a
person asked for over the API, confirming their password, and the person is erased as
after the API's approval (the request completed, the address replaced, the receipt
mailed); the system status shows this server's version, database and queues; the site
analytics shows page views counted through `POST /api/site/pageview` and how many
accounts consent to analytics; a plain user is refused every one of these pages and
their forms."""

from __future__ import annotations

import re
import secrets
from importlib.metadata import version

import aiohttp
from playwright.async_api import Browser
from sqlalchemy import select, update

from aisonar.analytics.site_reports import analytics_consent
from aisonar.audit.models import Actor
from aisonar.channels import services as channels
from aisonar.clock import utcnow
from aisonar.privacy.consents import Purpose, record_choice
from aisonar.store.roles import Role
from aisonar.store.tables import users
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import fetch, http_session, post, prove_long_ago
from tests.console.people import (
    PASSWORD,
    browsing_as,
    console_person,
    csrf_token_in,
    screenshot,
    sign_in_over_http,
)
from tests.console.test_console_operator_deletions import ask_for_deletion, request_now
from tests.mailbox import Mailbox
from tests.support import Backend

COMPLETED_SUBJECT = "Your account was deleted"
A_BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


async def test_as_an_operator_approve_a_deletion(
    browser: Browser, gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    operator = await console_person(backend.engine, name="Olga Operator", role=Role.OPERATOR)
    leaver = await console_person(backend.engine, name="Zephyrine Quillfeather")
    request_id = await ask_for_deletion(gateway.url, leaver, reason="I am moving on")
    async with browsing_as(browser, gateway.url, operator.email, locale="en-US") as seen:
        page = seen.page
        await page.click(".cookie-banner button[value=no]")
        await page.click("nav.main-nav a[href='/console/operator/deletions']")
        await page.wait_for_url(gateway.url + "/console/operator/deletions")
        row = page.locator("#deletions-table tr", has_text=leaver.email)
        assert "I am moving on" in await row.inner_text()
        await screenshot(page, "operator-deletions")

        await row.locator("a").click()
        await page.wait_for_url(f"{gateway.url}/console/operator/deletions/{request_id}")
        # The session proved its password long ago: the approval asks for it again.
        await prove_long_ago(backend, operator.user_id)
        await page.reload()
        assert await page.locator("#current-password").count() == 1
        await screenshot(page, "operator-deletion")
        await page.fill("#approve-reason", "identity checked")
        await page.fill("#current-password", PASSWORD)
        await page.click("#approve-form button[type=submit]")
        await page.wait_for_selector("#deletion-status[data-status=completed]")
        assert "identity checked" in await page.inner_text("#decision-reason")
        assert await page.locator("#receipt-erased").count() == 1
        assert leaver.email not in await page.content()
        await screenshot(page, "operator-deletion-done")

    # As after `POST /api/deletion-requests/{id}/approve`: erased at once, receipt mailed.
    done = await request_now(backend, request_id)
    assert done.status == "completed" and done.decided_by == operator.email
    assert done.receipt is not None and done.receipt["mailed"] is True
    async with backend.engine.connect() as conn:
        row_now = (await conn.execute(select(users).where(users.c.id == leaver.user_id))).one()
    assert row_now.email.endswith("@deleted.invalid") and "Quillfeather" not in row_now.name
    await mailbox.wait_for_subject(leaver.email, COMPLETED_SUBJECT)


async def count_page_views(url: str, path: str, times: int) -> None:
    """Views reported as the console's script reports them, by a consenting browser."""
    async with aiohttp.ClientSession(cookies={"aisonar_consent": "analytics"}) as http:
        for _ in range(times):
            async with http.post(
                url + "/api/site/pageview",
                json={"path": path, "referrer": "https://news.example.org/story"},
                headers={"user-agent": A_BROWSER, "origin": url},
            ) as answer:
                assert answer.status == 204


async def test_site_analytics_and_system_status(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    path = f"/console/site-test-{secrets.token_hex(3)}"
    await count_page_views(gateway.url, path, 3)
    async with backend.engine.begin() as conn:
        before = await analytics_consent(conn)
    consenting = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        await record_choice(conn, consenting.user_id, Purpose.ANALYTICS, True, actor=Actor("t"))
        after = await analytics_consent(conn)
    assert (after.people, after.allowed) == (before.people + 1, before.allowed + 1)

    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        status, html = await fetch(http, gateway.url + "/console/operator/site")
        assert status == 200
        assert re.search(rf"<code>{path}</code></td><td class=\"num\">3</td>", html)
        assert "news.example.org" in html and "Chrome" in html
        today = utcnow().date().isoformat()
        assert re.search(rf"<td>{today}</td><td class=\"num\">\d+</td>", html)
        # The page counts the accounts in use as it is drawn: other tests' erasures,
        # finishing in the background, may take some away before and after it is.
        async with backend.engine.begin() as conn:
            drawn = await analytics_consent(conn)
        shown = re.search(r"([\d,]+) of ([\d,]+) accounts in use allow it", html)
        assert shown, html
        allowed, people = (int(shown.group(n).replace(",", "")) for n in (1, 2))
        assert min(after.allowed, drawn.allowed) <= allowed <= max(after.allowed, drawn.allowed)
        assert min(after.people, drawn.people) <= people <= max(after.people, drawn.people)
        # A window that ended before the views: none of them.
        status, html = await fetch(
            http, gateway.url + "/console/operator/site?since=2001-01-01&until=2001-01-31"
        )
        assert status == 200 and path not in html and "2001-01-31" in html
        status, html = await fetch(
            http, gateway.url + "/console/operator/site?since=2001-02-01&until=2001-01-01"
        )
        assert status == 400 and 'class="error"' in html and 'value="2001-02-01"' in html
        status, html = await fetch(http, gateway.url + "/console/operator/site?since=yesterday")
        assert status == 400 and 'class="error"' in html

        status, html = await fetch(http, gateway.url + "/console/operator/status")
        assert status == 200
        assert f'id="status-version">{version("aisonar")}<' in html
        assert 'id="status-database">reachable<' in html and 'id="database-up-to-date">yes<' in html
        async with backend.engine.connect() as conn:
            turned_off = sum(not c.enabled for c in await channels.list_channels(conn))
        assert re.search(rf"<td>turned off</td><td class=\"num\">{turned_off}</td>", html)

    async with browsing_as(browser, gateway.url, operator.email, locale="en-US") as seen:
        page = seen.page
        await page.click(".cookie-banner button[value=no]")
        await page.click("nav.main-nav a[href='/console/operator/site']")
        await page.wait_for_url(gateway.url + "/console/operator/site")
        await page.wait_for_selector("canvas[data-chart=cost][data-drawn=true]")
        assert await page.locator("#path-table", has_text=path).count() == 1
        await screenshot(page, "operator-site")
        await page.click("nav.main-nav a[href='/console/operator/status']")
        await page.wait_for_url(gateway.url + "/console/operator/status")
        assert await page.inner_text("#status-version") == version("aisonar")
        await screenshot(page, "operator-status")


async def test_a_user_is_refused_every_operator_page(
    gateway: RunningGateway, backend: Backend
) -> None:
    user = await console_person(backend.engine)
    leaver = await console_person(backend.engine)
    request_id = await ask_for_deletion(gateway.url, leaver)
    async with backend.engine.connect() as conn:
        fake = next(c for c in await channels.list_channels(conn) if c.name == "fake")
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, user.email)
        status, html = await fetch(http, gateway.url + "/console")
        token = csrf_token_in(html)
        for path in (
            "/console/operator/channels",
            f"/console/operator/channels/{fake.id}",
            "/console/operator/deletions",
            f"/console/operator/deletions/{request_id}",
            "/console/audit",
            "/console/audit/export?format=jsonl",
            "/console/operator/site",
            "/console/operator/status",
        ):
            assert f'href="{path}"' not in html
            status, page = await fetch(http, gateway.url + path)
            assert status == 403, (path, status)
            assert leaver.email not in page
        for path, fields in (
            (f"/console/operator/deletions/{request_id}/approve", {}),
            (f"/console/operator/deletions/{request_id}/reject", {"reason": "no"}),
            (f"/console/operator/channels/{fake.id}/enabled", {"enabled": "no"}),
        ):
            status, _, _ = await post(http, gateway.url + path, token, fields)
            assert status == 403, path
    assert (await request_now(backend, request_id)).status == "requested"
    async with backend.engine.connect() as conn:
        assert next(c for c in await channels.list_channels(conn) if c.name == "fake").enabled


async def test_the_pages_speak_simplified_chinese(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    leaver = await console_person(backend.engine)
    request_id = await ask_for_deletion(gateway.url, leaver)
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(users).where(users.c.id == operator.user_id).values(language="zh-Hans")
        )
        fake = next(c for c in await channels.list_channels(conn) if c.name == "fake")
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        for path, heading in (
            ("/console/operator/channels", "渠道"),
            (f"/console/operator/channels/{fake.id}", "修改渠道"),
            ("/console/operator/deletions", "删除请求"),
            (f"/console/operator/deletions/{request_id}", "拒绝该请求"),
            ("/console/audit", "审计日志"),
            ("/console/operator/site", "网站分析"),
            ("/console/operator/status", "系统状态"),
        ):
            status, html = await fetch(http, gateway.url + path)
            assert status == 200 and heading in html, path
        status, html = await fetch(http, gateway.url + "/console/audit?since=someday")
        assert status == 400 and "日期格式应为 YYYY-MM-DD" in html
