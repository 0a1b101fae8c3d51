"""What people type is shown as text everywhere in the console: a person's name, a key's
name and a model name made of markup render inert (no element made of them, no script
run)."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser

from aisonar.testing.gateway_server import RunningGateway
from tests.console.people import MARKUP, browsing_as, console_person
from tests.support import Backend, writer_drained

INLINE_SCRIPTS = "script:not([src]):not([type='application/json'])"


async def test_markup_typed_by_people_is_shown_as_text(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine, name=MARKUP)
    async with browsing_as(browser, gateway.url, person.email) as seen:
        page = seen.page
        await page.goto(gateway.url + "/console/keys")
        await page.fill("#key-name", MARKUP)
        await page.click("form.stacked button[type=submit]")
        secret = (await page.locator("#key-secret").text_content() or "").strip()
        # A request naming a model made of markup is refused, and logged under that name.
        async with httpx.AsyncClient() as http:
            refused = await http.post(
                gateway.url + "/v1/chat/completions",
                headers={"Authorization": f"Bearer {secret}"},
                json={"model": MARKUP, "messages": [{"role": "user", "content": "hi"}]},
            )
        assert refused.status_code >= 400
        await writer_drained(gateway)
        for path, shown in (
            ("/console", ".who"),
            ("/console/keys", "#keys-table"),
            ("/console/usage", "#usage-table"),
        ):
            await page.goto(gateway.url + path)
            assert MARKUP in (await page.locator(shown).text_content() or ""), path
            assert await page.locator("img[src=x]").count() == 0, path
            assert await page.locator(INLINE_SCRIPTS).count() == 0, path
        await page.goto(gateway.url + "/console/keys")
        await page.click("#keys-table a[href$='/revoke']")
        assert MARKUP in (await page.locator("main p").first.text_content() or "")
        assert await page.locator("img[src=x]").count() == 0
        assert await page.locator(INLINE_SCRIPTS).count() == 0
