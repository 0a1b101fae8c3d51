"""The dashboard's charts say what they show: with no request in the range the cost per
day says so instead of drawing an empty grid; the by-model chart shows cost beside
requests and tokens, each axis titled as its table column; a request for a made-up model
is counted among the refusals, never drawn as a model of its own."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser

from aisonar.accounts import services as accounts
from aisonar.testing.gateway_server import RunningGateway
from tests.console.people import PASSWORD, browsing, console_person
from tests.console.test_console_browser import chart_data, requests_shown
from tests.support import Backend, writer_drained

MADE_UP = "no-such-model-anywhere"


async def test_the_charts_say_what_they_show(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with browsing(browser, locale="en-US") as seen:
        page = seen.page
        await page.goto(gateway.url + "/console/sign-in")
        await page.fill("#email", person.email)
        await page.fill("#password", PASSWORD)
        await page.click("form.stacked button[type=submit]")
        await page.wait_for_url(gateway.url + "/console")
        assert await page.locator("#cost-empty").is_visible()
        assert await page.locator("canvas[data-chart=cost]").count() == 0

        async with backend.engine.begin() as conn:
            _, secret = await accounts.create_key(conn, person.email, name="charts")
        async with httpx.AsyncClient() as client:
            for model, status in (("gpt-4o-mini", 200), (MADE_UP, 404)):
                answer = await client.post(
                    gateway.url + "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {secret}"},
                    json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                )
                assert answer.status_code == status, answer.text
        await writer_drained(gateway)

        await requests_shown(backend, page, "gpt-4o-mini")
        models = await chart_data(page, "models")
        assert models["labels"] == ["gpt-4o-mini"] and float(models["cost"][0]) > 0
        assert await page.locator("#models-refused td").nth(1).text_content() == "1"
        assert await page.locator("#models-table", has_text=MADE_UP).count() == 0
        assert await page.locator("#cost-empty").count() == 0
        await page.wait_for_selector("canvas[data-chart=models][data-drawn=true]")
        titles = await page.evaluate(
            """() => {
                const canvas = document.querySelector("canvas[data-chart=models]");
                const scales = window.Chart.getChart(canvas).options.scales;
                return ["requests", "tokens", "cost"].map((axis) => scales[axis].title.text);
            }"""
        )
        assert titles == ["Requests", "Input tokens + Output tokens", "Cost (USD)"]
