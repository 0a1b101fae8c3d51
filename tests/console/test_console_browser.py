"""The console in a real browser, end to end: sign in, create a key and read its secret
from the page, call the gateway with it through the openai SDK, see the request in the
dashboard's chart data and table and in the usage log, switch to Chinese, refuse then
allow analytics, sign out. No page breaks its Content-Security-Policy."""

from __future__ import annotations

import json
from typing import Any

import openai
from playwright.async_api import Browser, Page
from sqlalchemy import select

from aisonar.clock import utcnow
from aisonar.privacy.cookies import CONSENT_COOKIE, DECLARED_NAMES, LANGUAGE_COOKIE
from aisonar.store.tables import users
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.compaction import compact
from tests.console.people import PASSWORD, browsing, console_person, screenshot
from tests.support import Backend, writer_drained


async def chart_data(page: Page, name: str) -> Any:
    return json.loads(await page.locator(f"#chart-{name}").text_content() or "null")


async def cookie_values(page: Page) -> dict[str, str]:
    return {cookie["name"]: cookie["value"] for cookie in await page.context.cookies()}


async def requests_shown(backend: Backend, page: Page, model: str) -> dict[str, Any]:
    """The dashboard once it counts a request to the model: the usage writer flushes on
    its own schedule, and hours and days are rebuilt from minutes every minute (here at
    once)."""
    for _ in range(40):
        async with backend.engine.begin() as conn:
            await compact(conn, utcnow())
        await page.reload()
        models = await chart_data(page, "models")
        if model in models["labels"]:
            return dict(zip(models["labels"], models["requests"], strict=True))
        await page.wait_for_timeout(100)
    raise AssertionError(f"the dashboard never counted a request to {model}")


async def test_a_person_works_through_the_console_in_a_browser(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with browsing(browser, locale="en-US") as seen:
        page = seen.page
        # Signed out, the console sends the visitor to sign in, and back after.
        await page.goto(gateway.url + "/console/keys")
        assert page.url == gateway.url + "/console/sign-in?next=%2Fconsole%2Fkeys"
        await screenshot(page, "sign-in")
        await page.fill("#email", person.email)
        await page.fill("#password", PASSWORD)
        await page.click("form.stacked button[type=submit]")
        assert page.url == gateway.url + "/console/keys"
        # Before a choice in the banner: only necessary cookies, and no consent cookie.
        assert await page.locator(".cookie-banner").is_visible()
        names = set(await cookie_values(page))
        assert "aisonar_session" in names and CONSENT_COOKIE not in names
        assert names <= DECLARED_NAMES

        # A key, its secret read from the page, with a copy button.
        await page.fill("#key-name", "browser key")
        await page.click("form.stacked button[type=submit]")
        secret = (await page.locator("#key-secret").text_content() or "").strip()
        assert secret.startswith("sk-")
        assert await page.locator("button[data-copy]").is_visible()
        await screenshot(page, "key-created")

        sdk = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)
        try:
            answer = await sdk.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}]
            )
        finally:
            await sdk.close()
        assert answer.choices[0].message.content
        await writer_drained(gateway)

        await page.goto(gateway.url + "/console")
        counted = await requests_shown(backend, page, "gpt-4o-mini")
        assert counted["gpt-4o-mini"] == 1
        row = page.locator("#models-table tbody tr", has_text="gpt-4o-mini")
        assert (await row.locator("td").nth(1).text_content()) == "1"
        cost = await chart_data(page, "cost")
        assert len(cost["labels"]) == 30 and float(cost["values"][-1]) > 0
        assert await page.locator("canvas[data-chart=cost][data-drawn=true]").count() == 1
        assert await page.locator("canvas[data-chart=models][data-drawn=true]").count() == 1
        await screenshot(page, "dashboard")

        await page.goto(gateway.url + "/console/usage")
        logged = page.locator("#usage-table tbody tr")
        assert await logged.count() == 1
        assert "gpt-4o-mini" in (await logged.first.text_content() or "")
        await page.select_option("#filter-status", "4")
        await page.click(".filters button")
        assert await page.locator("#usage-table").count() == 0
        await screenshot(page, "usage")

        # Chinese: the page, the cookie and the profile.
        await page.select_option("#language-choice", "zh-Hans")
        await page.click("header form.inline button")
        assert await page.locator("html").get_attribute("lang") == "zh-Hans"
        assert await page.locator("h1").text_content() == "使用记录"
        assert (await cookie_values(page))[LANGUAGE_COOKIE] == "zh-Hans"
        async with backend.engine.connect() as conn:
            language = await conn.scalar(
                select(users.c.language).where(users.c.id == person.user_id)
            )
        assert language == "zh-Hans"
        await screenshot(page, "usage-zh")

        # Refuse, then allow, analytics; a page view is reported only then.
        views: list[str] = []
        page.on(
            "request",
            lambda request: views.append(request.url) if "/pageview" in request.url else None,
        )
        await page.click(".cookie-banner button[value=no]")
        assert (await cookie_values(page))[CONSENT_COOKIE] == "necessary"
        assert await page.locator(".cookie-banner").count() == 0
        await page.goto(gateway.url + "/console/keys")
        assert views == []
        async with page.expect_request("**/api/site/pageview"):
            await page.click("footer button[value=yes]")
        assert (await cookie_values(page))[CONSENT_COOKIE] == "analytics"
        assert len(views) == 1

        await page.click("header form[action='/console/sign-out'] button")
        assert page.url.startswith(gateway.url + "/console/sign-in")
        assert "aisonar_session" not in await cookie_values(page)
        await page.goto(gateway.url + "/console")
        assert page.url.startswith(gateway.url + "/console/sign-in")
    assert seen.errors == []
