"""The operators' organization and plan pages: over plain HTTP an organization is created
(audited, as `POST /api/orgs`), found by name a page at a time with its balance, and its
plan, retention, models and dimension properties changed as
`PATCH /api/orgs/{id}` does (its low-balance threshold is only linked to, on its limits
page); a plan's retention is changed as `PATCH /api/plans/{plan}`; bad input changes
nothing and is shown beside the form with what was typed. In Chromium an organization
named with markup stays text."""

from __future__ import annotations

import secrets

from playwright.async_api import Browser
from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.accounts.models import Organization, Plan
from aisonar.accounts.plans import list_plans
from aisonar.errors import NotFound
from aisonar.store.roles import Role
from aisonar.store.tables import organizations
from aisonar.testing.gateway_server import RunningGateway
from tests.console.operators import audited, signed_in
from tests.console.people import MARKUP, browsing_as, console_person, screenshot
from tests.support import Backend

ORGS = "/console/operator/orgs"
PLANS = "/console/operator/plans"


async def org_named(backend: Backend, name: str) -> Organization | None:
    async with backend.engine.connect() as conn:
        try:
            return await accounts.get_org_by_name(conn, name)
        except NotFound:
            return None


async def test_an_operator_creates_and_finds_an_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    name = f"acme-{secrets.token_hex(4)}"
    async with signed_in(gateway.url, backend) as operator:
        status, html = await operator.get(ORGS)
        assert status == 200 and 'id="orgs-table"' in html

        # Bad input: nothing is created, the form keeps what was typed.
        for fields, expected, says in (
            ({"name": "", "plan": "pro"}, 400, "name"),
            ({"name": name, "plan": "platinum"}, 400, "plan"),
            ({"name": name, "plan": "pro", "models": "a*b*"}, 400, "one `*`"),
        ):
            status, _, page = await operator.post(ORGS, fields)
            assert status == expected, (fields, page)
            assert 'class="error"' in page and says in page
            assert f'value="{fields["name"]}"' in page
        assert await org_named(backend, name) is None

        status, location, _ = await operator.post(
            ORGS, {"name": name, "plan": "pro", "models": "gpt-4o, claude-*"}
        )
        created = await org_named(backend, name)
        assert created is not None and created.plan == "pro"
        assert (status, location) == (303, f"{ORGS}/{created.id}")
        async with backend.engine.connect() as conn:
            assert await accounts.org_models(conn, created.id) == ["claude-*", "gpt-4o"]
        [entry] = await audited(backend, "org.create", created.id)
        assert entry.actor == operator.person.email

        # The same name again: the API's conflict, nothing more.
        status, _, page = await operator.post(ORGS, {"name": name, "plan": "free"})
        assert status == 409 and "already exists" in page

        # Found by part of its name, in any case, with its balance and members; linked to
        # its overview and its settings.
        status, html = await operator.get(f"{ORGS}?q={name[5:].upper()}")
        assert status == 200 and f'href="/console/orgs/{created.id}"' in html
        assert f'href="{ORGS}/{created.id}"' in html and "1 organization" in html
        status, html = await operator.get(f"{ORGS}?q={operator.person.org_id}-nothing")
        assert name not in html and "No organization matches." in html
        own = await org_named(backend, operator.person.email.split("@")[0])
        assert own is not None
        status, html = await operator.get(f"{ORGS}?q={own.name}")
        row = html[html.index(f'href="/console/orgs/{own.id}"') :]
        row = row[: row.index("</tr>")]
        assert "100.00" in row and ">1<" in row


async def test_the_list_is_paged(gateway: RunningGateway, backend: Backend) -> None:
    prefix = f"paged-{secrets.token_hex(3)}"
    async with backend.engine.begin() as conn:
        for number in range(27):
            await accounts.create_org(conn, f"{prefix}-{number:02d}")
    async with signed_in(gateway.url, backend) as operator:
        status, html = await operator.get(f"{ORGS}?q={prefix}")
        assert "27 organizations" in html and html.count('class="org-link"') == 25
        # Newest first: the last made is on the first page.
        assert f"{prefix}-26" in html and f"{prefix}-00" not in html
        assert f'href="{ORGS}?q={prefix}&amp;page=2"' in html
        status, html = await operator.get(f"{ORGS}?q={prefix}&page=2")
        assert status == 200 and html.count('class="org-link"') == 2
        assert f"{prefix}-00" in html and "Page 2 of 2" in html


async def test_an_operator_changes_an_organizations_settings(
    gateway: RunningGateway, backend: Backend
) -> None:
    async with backend.engine.begin() as conn:
        org = await accounts.create_org(conn, f"settings-{secrets.token_hex(4)}")

    async def stored() -> dict[str, object]:
        async with backend.engine.connect() as conn:
            row = (
                await conn.execute(select(organizations).where(organizations.c.id == org.id))
            ).one()
        return {
            "plan": row.plan,
            "retention_days": row.retention_days,
            "threshold": row.low_balance_threshold,
            "models": row.models,
            "dimensions": row.dimension_properties,
        }

    page = f"{ORGS}/{org.id}"
    async with signed_in(gateway.url, backend) as operator:
        status, html = await operator.get(page)
        assert status == 200 and f'href="/console/orgs/{org.id}"' in html
        assert 'id="org-plan-now">free<' in html
        # The threshold's one place is the organization's limits page, in the currency.
        assert f'href="/console/orgs/{org.id}/limits#threshold-heading"' in html
        assert f'href="/console/orgs/{org.id}/alerts"' in html
        assert 'name="low_balance_threshold"' not in html
        status, _, _ = await operator.post(f"{page}/threshold", {"low_balance_threshold": "5"})
        assert status == 404
        status, html = await operator.get(f"/console/orgs/{org.id}/limits")
        assert "Low-balance threshold (USD)" in html and 'name="low_balance_threshold"' in html
        # The overview leads to the settings and the recharge.
        status, html = await operator.get(f"/console/orgs/{org.id}")
        assert f'href="{page}"' in html
        assert f'href="/console/operator/recharges?org_id={org.id}"' in html

        for section, field, value, after in (
            ("plan", "plan", "enterprise", {"plan": "enterprise"}),
            ("retention", "retention_days", "400", {"retention_days": 400}),
            ("models", "models", "gpt-4o-mini, o3", {"models": ["gpt-4o-mini", "o3"]}),
            (
                "dimensions",
                "dimension_properties",
                "team, feature",
                {"dimensions": ["feature", "team"]},
            ),
        ):
            before = await stored()
            status, location, _ = await operator.post(f"{page}/{section}", {field: value})
            assert (status, location) == (303, f"{page}?changed={section}")
            assert await stored() == before | after, section
        updates = await audited(backend, "org.update", org.id)
        changed = {name for entry in updates for name in entry.changes}
        assert {"plan", "retention_days", "models", "dimension_properties"} <= changed
        status, html = await operator.get(f"{page}?changed=plan")
        assert "Saved." in html and "400 days (its own)" in html

        # Bad input changes nothing and is shown beside its form with what was typed.
        before = await stored()
        for section, field, value, says in (
            ("retention", "retention_days", "0", "greater than or equal to 1"),
            ("retention", "retention_days", "many", "valid integer"),
            ("plan", "plan", "platinum", "Input should be"),
            ("models", "models", "a*b*", "one `*`"),
            ("dimensions", "dimension_properties", "a,b,c,d,e,f", "at most 5 properties"),
        ):
            status, _, html = await operator.post(f"{page}/{section}", {field: value})
            assert status == 400, (section, value, html)
            assert 'class="error"' in html and says in html
            if section != "plan":  # (a select shows its choices)
                assert f'value="{value}"' in html
        assert await stored() == before

        # Empty returns the retention to the plan's and frees the models.
        await operator.post(f"{page}/retention", {"retention_days": ""})
        await operator.post(f"{page}/models", {"models": ""})
        assert await stored() == before | {"retention_days": None, "models": None}

        # An unknown organization or form is no page.
        status, _ = await operator.get(f"{ORGS}/org_nobody")
        assert status == 404
        status, _, _ = await operator.post(f"{ORGS}/org_nobody/plan", {"plan": "pro"})
        assert status == 404
        status, _, _ = await operator.post(f"{page}/name", {"name": "x"})
        assert status == 404


async def test_an_operator_changes_a_plans_retention(
    gateway: RunningGateway, backend: Backend
) -> None:
    async def days_of(plan: str) -> int:
        async with backend.engine.connect() as conn:
            return next(p.retention_days for p in await list_plans(conn) if p.name == plan)

    before = await days_of(Plan.SCALE)
    async with signed_in(gateway.url, backend) as operator:
        status, html = await operator.get(PLANS)
        assert status == 200 and 'id="plans-table"' in html
        for wrong in ("0", "5000", "soon"):
            status, _, html = await operator.post(f"{PLANS}/scale", {"retention_days": wrong})
            assert status == 400 and 'class="error"' in html and f'value="{wrong}"' in html
        assert await days_of(Plan.SCALE) == before
        status, location, _ = await operator.post(
            f"{PLANS}/scale", {"retention_days": str(before + 1)}
        )
        assert (status, location) == (303, f"{PLANS}?changed=scale")
        try:
            assert await days_of(Plan.SCALE) == before + 1
            [*_, entry] = await audited(backend, "plan.update", "scale")
            assert entry.changes == {"retention_days": [before, before + 1]}
        finally:
            await operator.post(f"{PLANS}/scale", {"retention_days": str(before)})
        assert await days_of(Plan.SCALE) == before
        status, _, _ = await operator.post(f"{PLANS}/platinum", {"retention_days": "9"})
        assert status == 404


async def test_organization_pages_in_a_browser_keep_markup_inert(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    marked = MARKUP + secrets.token_hex(3)
    async with backend.engine.begin() as conn:
        org = await accounts.create_org(conn, marked, "scale")
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    async with browsing_as(browser, gateway.url, operator.email, locale="en-US") as seen:
        page = seen.page
        await page.click(f"nav.main-nav a[href='{ORGS}']")
        await page.wait_for_url(gateway.url + ORGS)
        assert marked in await page.inner_text("#orgs-table")
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "operator-orgs")

        await page.fill("#org-search", marked[-6:])
        await page.click("form[role=search] button")
        await page.click(f"a[href='{ORGS}/{org.id}']")
        await page.wait_for_url(f"{gateway.url}{ORGS}/{org.id}")
        assert marked in await page.inner_text("#org-details")
        await page.select_option("#org-plan", "pro")
        await page.click("form[action$='/plan'] button")
        await page.wait_for_url(f"{gateway.url}{ORGS}/{org.id}?changed=plan")
        assert await page.inner_text("#org-plan-now") == "pro"
        await screenshot(page, "operator-org")

        await page.click(f"nav.main-nav a[href='{PLANS}']")
        await page.wait_for_url(gateway.url + PLANS)
        await screenshot(page, "operator-plans")
        assert await page.locator("img[src=x]").count() == 0
