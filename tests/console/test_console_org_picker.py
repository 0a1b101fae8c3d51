"""The organization pickers of the operators' recharge and price pages never list the
whole table: with more organizations than a picker offers, it offers only that many (the
newest), a search by name (any case) finds one beyond them, the organization asked for or
typed stays offered and selected whatever the search, and a search that matches nothing
offers none. The prices page shows the markups of the newest 50 organizations with one,
and the search finds the others. In Chromium with JavaScript off, an operator finds an
organization by name and tops it up."""

from __future__ import annotations

import re
import secrets

from playwright.async_api import Browser

from aisonar.accounts import services as accounts
from aisonar.accounts.models import Organization
from aisonar.console.operator_prices import MARKUPS_SHOWN
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway
from tests.console.operators import signed_in
from tests.console.people import browsing_as, console_person, screenshot
from tests.support import Backend

RECHARGES = "/console/operator/recharges"
PRICES = "/console/operator/prices"
_OPTION = re.compile(r'<option value="([^"]+)"')
_ORG_MARKUP = re.compile(r'<td>organization</td>\s*<td class="wrap">([^<]+)</td>')
MINE = accounts.ORG_CHOICES + 5


def offered(page: str, select_id: str) -> list[str]:
    """The organization ids a select of the page offers (its empty choice left out)."""
    start = page.index(f'<select id="{select_id}"')
    return _OPTION.findall(page[start : page.index("</select>", start)])


async def many_orgs(backend: Backend) -> list[Organization]:
    """More organizations than a picker offers, named alike."""
    tag = secrets.token_hex(4)
    async with backend.engine.begin() as conn:
        return [await accounts.create_org(conn, f"picker-{tag}-{n:02}") for n in range(MINE)]


async def test_the_recharge_pickers_offer_matches_not_every_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    mine = await many_orgs(backend)
    ids = {org.id for org in mine}
    async with signed_in(gateway.url, backend) as operator:
        status, page = await operator.get(RECHARGES)
        assert status == 200
        for select_id in ("recharge-org", "recharges-org-filter"):
            assert len(offered(page, select_id)) == accounts.ORG_CHOICES
        assert 'class="muted org-more"' in page
        # At least five of these organizations are not offered; a search finds one.
        [hidden, *_] = [org for org in mine if org.id not in offered(page, "recharge-org")]
        status, page = await operator.get(f"{RECHARGES}?org_search={hidden.name.upper()}")
        assert status == 200
        assert offered(page, "recharge-org") == offered(page, "recharges-org-filter") == [hidden.id]
        assert 'class="muted org-more"' not in page
        prefix = hidden.name[: -len("-00")]
        _, page = await operator.get(f"{RECHARGES}?org_search={prefix}")
        assert len(offered(page, "recharge-org")) == accounts.ORG_CHOICES
        assert set(offered(page, "recharge-org")) <= ids
        assert 'class="muted org-more"' in page
        _, page = await operator.get(f"{RECHARGES}?org_search=nothing-{secrets.token_hex(4)}")
        assert offered(page, "recharge-org") == []

        # The organization asked for is offered and selected beside the newest ones,
        # and beside a search's matches.
        _, page = await operator.get(f"{RECHARGES}?org_id={hidden.id}")
        assert f'<option value="{hidden.id}" selected>' in page
        assert len(offered(page, "recharge-org")) == accounts.ORG_CHOICES + 1
        _, page = await operator.get(f"{RECHARGES}?org_id={hidden.id}&org_search=nothing")
        assert offered(page, "recharge-org") == [hidden.id]
        # The search is kept by the list's filter, and the filter by the search.
        assert '<input type="hidden" name="org_search" value="nothing">' in page
        assert f'<input type="hidden" name="org_id" value="{hidden.id}">' in page

        # A refused recharge keeps the typed organization selected.
        fields = {"org_id": hidden.id, "amount": "-3", "note": "", "reference": ""}
        status, _, page = await operator.post(RECHARGES, fields)
        assert status == 400
        assert f'<option value="{hidden.id}" selected>' in page


async def test_the_markup_picker_offers_matches_not_every_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    mine = await many_orgs(backend)
    async with signed_in(gateway.url, backend) as operator:
        status, page = await operator.get(PRICES)
        assert status == 200 and len(offered(page, "markup-org")) == accounts.ORG_CHOICES
        [hidden, *_] = [org for org in mine if org.id not in offered(page, "markup-org")]
        status, page = await operator.get(f"{PRICES}?model=gpt-4o&org_search={hidden.name}")
        assert status == 200 and offered(page, "markup-org") == [hidden.id]
        # The search keeps the model looked up.
        assert '<input type="hidden" name="model" value="gpt-4o">' in page
        fields = {"org_id": hidden.id, "multiplier": "zero"}
        status, _, page = await operator.post(f"{PRICES}/org-markup", fields)
        assert status == 400
        assert f'<option value="{hidden.id}" selected>' in page
        assert len(offered(page, "markup-org")) == accounts.ORG_CHOICES + 1


async def test_an_organization_is_found_and_topped_up_without_javascript(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    mine = await many_orgs(backend)
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    async with browsing_as(
        browser, gateway.url, operator.email, locale="en-US", java_script_enabled=False
    ) as seen:
        page = seen.page
        await page.goto(gateway.url + RECHARGES)
        shown = await page.locator("#recharge-org option").evaluate_all(
            "options => options.map(option => option.value)"
        )
        [hidden, *_] = [org for org in mine if org.id not in shown]
        await page.fill("#recharge-org-search", hidden.name)
        await page.click("form[action$='#new-recharge'] button")
        await page.wait_for_url(re.compile(r".*org_search=.*"))
        assert await page.locator("#recharge-org option").count() == 2
        await page.select_option("#recharge-org", hidden.id)
        await page.fill("#recharge-amount", "7")
        await screenshot(page, "operator-recharge-org-search")
        await page.click("form[action='/console/operator/recharges'] button")
        await page.wait_for_selector("#recharge-summary")
        summary = await page.inner_text("#recharge-summary")
        assert hidden.name in summary and "7.00" in summary


async def test_the_organizations_markups_shown_are_the_newest_matches(
    gateway: RunningGateway, backend: Backend
) -> None:
    tag = secrets.token_hex(4)
    names = [f"marked-{tag}-{n:02}" for n in range(MARKUPS_SHOWN + 5)]
    async with backend.engine.begin() as conn:
        for name in names:
            await accounts.create_org(conn, name)
            await accounts.set_org_markup(conn, name, "1.1")
    async with signed_in(gateway.url, backend) as operator:
        status, page = await operator.get(PRICES)
        assert status == 200
        shown = _ORG_MARKUP.findall(page)
        assert len(shown) == MARKUPS_SHOWN and 'id="more-markups"' in page
        # At least five of these are not shown; a search by name shows one.
        [hidden, *_] = [name for name in names if name not in shown]
        status, page = await operator.get(f"{PRICES}?org_search={hidden}")
        assert status == 200
        assert _ORG_MARKUP.findall(page) == [hidden] and 'id="more-markups"' not in page
        _, page = await operator.get(f"{PRICES}?org_search=marked-{tag}")
        assert set(_ORG_MARKUP.findall(page)) <= set(names) and 'id="more-markups"' in page
