"""What the layout carries: sign-up when the operator allows it (age and terms as the API
asks for them), the banner of policies to acknowledge with its button, the policies'
pages, an error page; the language from the browser until one is chosen."""

from __future__ import annotations

import secrets

import aiohttp
from playwright.async_api import Browser
from sqlalchemy import func, select

from aisonar.privacy.policies import PolicyKind, publish_policy
from aisonar.store.tables import organizations, users
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.console.people import (
    PASSWORD,
    browsing,
    browsing_as,
    console_person,
    screenshot,
    sign_in_over_http,
)
from tests.support import Backend


async def test_sign_up_is_a_page_only_when_the_operator_allows_it(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(gateway.url + "/console/sign-up") as closed:
            assert closed.status == 404
        async with http.get(gateway.url + "/console/sign-in") as sign_in:
            assert "/console/sign-up" not in await sign_in.text()
    company = f"console-signup-{secrets.token_hex(3)}"
    settings = backend.settings.model_copy(update={"signup_enabled": True})
    async with running_gateway(settings) as open_gateway:
        url = open_gateway.url
        # Bad input (no age confirmation) creates nothing.
        underage = {
            "name": "Young",
            "company": company,
            "email": f"{company}-young@example.com",
            "password": PASSWORD,
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(url + "/console/sign-up", data=underage) as refused,
        ):
            assert refused.status == 400 and "18 or older" in await refused.text()
        async with backend.engine.connect() as conn:
            query = select(func.count()).where(organizations.c.name == company)
            assert (await conn.execute(query)).scalar_one() == 0

        async with browsing(browser) as seen:
            page = seen.page
            await page.goto(url + "/console/sign-in")
            await page.click("a[href='/console/sign-up']")
            await page.fill("#name", "Ada Founder")
            await page.fill("#company", company)
            await page.fill("#email", f"{company}@example.com")
            await page.fill("#password", PASSWORD)
            await page.check("input[name=age_confirmed]")
            if await page.locator("input[name=accept_terms]").count():
                await page.check("input[name=accept_terms]")
            await screenshot(page, "sign-up")
            await page.click("form.stacked button[type=submit]")
            assert page.url == url + "/console"
            assert "organization admin" in (await page.locator(".who").text_content() or "")
        async with backend.engine.connect() as conn:
            role = await conn.scalar(
                select(users.c.role).where(users.c.email == f"{company}@example.com")
            )
        assert role == "org_admin"


async def test_a_policy_to_acknowledge_shows_a_banner_until_it_is(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    text = f"We keep what we must. <b>{secrets.token_hex(4)}</b>"
    async with backend.engine.begin() as conn:
        await publish_policy(conn, PolicyKind.PRIVACY, text, material=True)
    async with browsing_as(browser, gateway.url, person.email) as seen:
        page = seen.page
        banner = page.locator(".policy-banner", has_text="Privacy policy")
        assert await banner.count() == 1
        await screenshot(page, "dashboard-policy-banner")
        await banner.locator("a").click()
        assert await page.locator(".policy-text").text_content() == text
        await screenshot(page, "policy")
        await page.locator(".policy-banner", has_text="Privacy policy").locator("button").click()
        assert page.url == gateway.url + "/console/policies/privacy"
        assert await page.locator(".policy-banner", has_text="Privacy policy").count() == 0
        await page.goto(gateway.url + "/console/keys/key_nobodys/revoke")
        assert await page.locator("h1").text_content() == "Not found"
        await screenshot(page, "error")


async def test_the_language_follows_the_browser_until_one_is_chosen(
    gateway: RunningGateway, backend: Backend
) -> None:
    chinese = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(gateway.url + "/console/sign-in", headers=chinese) as page:
            assert page.headers["Content-Language"] == "zh-Hans" and "登录" in await page.text()
        form = {"language": "en", "next": "/console/sign-in"}
        async with http.post(gateway.url + "/console/language", data=form) as chosen:
            assert chosen.status == 200 and chosen.headers["Content-Language"] == "en"
        async with http.get(gateway.url + "/console/sign-in", headers=chinese) as page:
            assert page.headers["Content-Language"] == "en"
        async with http.post(gateway.url + "/console/language", data={"language": "fr"}) as bad:
            assert bad.status == 400
        # A signed-in person's profile language wins over the cookie.
        person = await console_person(backend.engine)
        async with backend.engine.begin() as conn:
            await conn.execute(
                users.update().where(users.c.id == person.user_id).values(language="zh-Hans")
            )
        await sign_in_over_http(http, gateway.url, person.email)
        async with http.get(gateway.url + "/console") as dashboard:
            assert dashboard.headers["Content-Language"] == "zh-Hans"
            assert "仪表盘" in await dashboard.text()
