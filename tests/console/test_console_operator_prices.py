"""The operators' prices and markups page: over plain HTTP a model's billed price is looked
up with its source (the catalogue's, then the operator's own once set, as
`PUT /api/prices/{model}` sets it, audited), and the markups of a plan and of an
organization are set as the API sets them; malformed prices and multipliers, and unknown
organizations, change nothing. In Chromium a model named with markup stays text."""

from __future__ import annotations

import html as markup
import re
import secrets

from playwright.async_api import Browser
from sqlalchemy import select

from aisonar.accounts import markups
from aisonar.accounts import services as accounts
from aisonar.billing import prices
from aisonar.errors import NotFound
from aisonar.store.roles import Role
from aisonar.store.tables import model_prices, organizations
from aisonar.testing.gateway_server import RunningGateway
from tests.console.operators import audited, signed_in
from tests.console.people import MARKUP, browsing_as, console_person, screenshot
from tests.support import Backend

PRICES = "/console/operator/prices"
CATALOGUED = "gpt-4.1-mini"


def first_error(page: str) -> str:
    errors = re.findall(r'class="error" role="alert">([^<]*)<', page)
    assert errors, "the page shows no error"
    return markup.unescape(errors[0])


async def own_price(backend: Backend, model: str) -> prices.OperatorPrice | None:
    async with backend.engine.connect() as conn:
        try:
            return await prices.get_operator_price(conn, model)
        except NotFound:
            return None


async def test_a_price_is_looked_up_and_set(gateway: RunningGateway, backend: Backend) -> None:
    model = f"console-model-{secrets.token_hex(3)}"
    async with signed_in(gateway.url, backend) as operator:
        status, page = await operator.get(f"{PRICES}?model={CATALOGUED}&provider=openai")
        assert status == 200 and 'id="billed-price"' in page
        assert 'id="price-source">the catalogue' in page
        # The form starts from the billed price.
        assert (
            f'id="price-model" name="model" maxlength="200" required value="{CATALOGUED}"' in page
        )

        status, page = await operator.get(f"{PRICES}?model={model}")
        assert status == 200 and 'id="price-missing"' in page and "has no price" in page

        fields = {
            "model": model,
            "input": "0.4",
            "output": "1.6",
            "cached_input": "",
            "cache_write": "",
        }
        for wrong, says in (
            ({"input": "cheap"}, "is not a decimal amount"),
            ({"output": "-1"}, "must be greater than zero"),
            ({"input": "0.0000001"}, "six decimal places"),
            ({"cached_input": "1e99"}, "too large"),
            ({"model": ""}, "Name the model."),
            ({"output": ""}, "output"),
        ):
            status, _, page = await operator.post(PRICES, fields | wrong)
            assert status == 400, (wrong, page)
            assert says in first_error(page), (wrong, first_error(page))
            assert f'value="{(fields | wrong)["input"]}"' in page
        assert await own_price(backend, model) is None

        status, location, _ = await operator.post(PRICES, fields)
        assert (status, location) == (303, f"{PRICES}?model={model}&saved=price")
        stored = await own_price(backend, model)
        assert stored is not None
        assert (stored.input, stored.output, stored.cached_input, stored.cache_write) == (
            "0.40",
            "1.60",
            "0.40",
            "0.40",
        )
        [entry] = await audited(backend, "price.set", model)
        assert entry.actor == operator.person.email

        status, page = await operator.get(location)
        assert 'id="price-source">your own price' in page and "The price is saved" in page
        assert f'href="{PRICES}?model={model}"' in page
        # The API answers the same.
        async with operator.http.get(f"{gateway.url}/api/prices/{model}") as answer:
            assert (await answer.json())["source"] == "operator"


async def test_markups_of_a_plan_and_an_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    async with backend.engine.begin() as conn:
        org = await accounts.create_org(conn, f"markup-{secrets.token_hex(4)}")

    async def org_markup() -> int | None:
        async with backend.engine.connect() as conn:
            query = select(organizations.c.markup_ppm).where(organizations.c.id == org.id)
            found = (await conn.execute(query)).scalar_one()
        return None if found is None else int(found)

    async def plan_markup(plan: str) -> str:
        async with backend.engine.connect() as conn:
            found = await markups.list_markups(conn)
        return next(m.multiplier for m in found if m.scope == "plan" and m.name == plan)

    async with signed_in(gateway.url, backend) as operator:
        for wrong, expected, says in (
            ({"multiplier": "0"}, 400, "positive multiplier"),
            ({"multiplier": "-2"}, 400, "positive multiplier"),
            ({"multiplier": "twice"}, 400, "is not a multiplier"),
            ({"org_id": "org_nobody"}, 404, "no organization with id"),
            ({"org_id": ""}, 400, "Choose an organization."),
        ):
            fields = {"org_id": org.id, "multiplier": "1.2"} | wrong
            status, _, page = await operator.post(f"{PRICES}/org-markup", fields)
            assert status == expected, (wrong, page)
            assert says in first_error(page)
        assert await org_markup() is None

        status, location, _ = await operator.post(
            f"{PRICES}/org-markup", {"org_id": org.id, "multiplier": "1.2"}
        )
        assert (status, location) == (303, f"{PRICES}?saved=markup#markups")
        assert await org_markup() == 1_200_000
        assert await audited(backend, "markup.set", org.id)
        status, page = await operator.get(PRICES)
        table = page[page.index('id="markups-table"') :]
        assert org.name in table[: table.index("</table>")]

        before = await plan_markup("enterprise")
        for wrong, expected in (({"multiplier": "0"}, 400), ({"plan": "platinum"}, 404)):
            fields = {"plan": "enterprise", "multiplier": "1.5"} | wrong
            status, _, page = await operator.post(f"{PRICES}/plan-markup", fields)
            assert status == expected, (wrong, page)
        assert await plan_markup("enterprise") == before
        try:
            status, _, _ = await operator.post(
                f"{PRICES}/plan-markup", {"plan": "enterprise", "multiplier": "1.5"}
            )
            assert status == 303 and await plan_markup("enterprise") == "1.5"
            [*_, entry] = await audited(backend, "markup.set", "enterprise")
            assert entry.changes == {"multiplier": [None, "1.5"]}
        finally:
            await operator.post(
                f"{PRICES}/plan-markup", {"plan": "enterprise", "multiplier": before}
            )
        assert await plan_markup("enterprise") == before


async def test_the_prices_page_in_a_browser_keeps_markup_inert(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    model = MARKUP + secrets.token_hex(3)
    async with backend.engine.begin() as conn:
        await prices.set_price(conn, model, input="1", output="2")
        await accounts.create_org(conn, MARKUP + secrets.token_hex(3))
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    async with browsing_as(browser, gateway.url, operator.email, locale="en-US") as seen:
        page = seen.page
        await page.click(f"nav.main-nav a[href='{PRICES}']")
        await page.wait_for_url(gateway.url + PRICES)
        assert model in await page.inner_text("#own-prices-table")
        assert await page.locator("img[src=x]").count() == 0
        await page.fill("#lookup-model", CATALOGUED)
        await page.click("form[role=search] button")
        await page.wait_for_selector("#billed-price")
        assert "catalogue" in await page.inner_text("#price-source")
        await screenshot(page, "operator-prices")
        await page.locator("#own-prices-table a", has_text=model[-6:]).click()
        await page.wait_for_selector("#billed-price")
        assert "your own price" in await page.inner_text("#price-source")
        assert await page.input_value("#price-model") == model
        assert await page.locator("img[src=x]").count() == 0
    async with backend.engine.connect() as conn:
        rows = (await conn.execute(select(model_prices).where(model_prices.c.model == model))).all()
    assert len(rows) == 1
