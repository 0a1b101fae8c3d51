"""The operators' user pages: over plain HTTP a user is created in any organization as
`POST /api/orgs/{id}/users` does (audited; with a first password they can sign in), found
by email, organization, role and state, and changed as `PATCH /api/users/{id}` does
(role, disabled and enabled, name and email; never one's own role); bad input and an
unknown organization change nothing and are shown with what was typed. In Chromium a
user named with markup stays text."""

from __future__ import annotations

import secrets

import aiohttp
from playwright.async_api import Browser

from aisonar.accounts import services as accounts
from aisonar.accounts.models import User
from aisonar.errors import NotFound
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway
from tests.console.operators import audited, signed_in
from tests.console.people import (
    MARKUP,
    PASSWORD,
    browsing_as,
    console_person,
    screenshot,
    sign_in_over_http,
)
from tests.support import Backend

USERS = "/console/operator/users"


async def user_by_email(backend: Backend, email: str) -> User | None:
    async with backend.engine.connect() as conn:
        try:
            return await accounts.get_user_by_email(conn, email)
        except NotFound:
            return None


async def test_an_operator_creates_a_user_in_another_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    other = await console_person(backend.engine, role=Role.ORG_ADMIN)
    email = f"new-{secrets.token_hex(4)}@example.com"
    fields = {
        "org_id": other.org_id,
        "email": email,
        "name": "Grace New",
        "role": "org_admin",
        "password": PASSWORD,
    }
    async with signed_in(gateway.url, backend) as operator:
        status, html = await operator.get(USERS)
        assert status == 200 and 'id="users-table"' in html

        for wrong, expected, says in (
            ({"org_id": ""}, 400, "Choose an organization."),
            ({"org_id": "org_nobody"}, 404, "no organization with id"),
            ({"email": "not-an-address"}, 400, "is not an email address"),
            ({"role": "king"}, 400, "role: Input should be"),
            ({"password": "short"}, 400, "at least 10 characters"),
        ):
            status, _, page = await operator.post(USERS, fields | wrong)
            assert status == expected, (wrong, page)
            assert 'class="error"' in page and says in page
            assert 'value="Grace New"' in page and PASSWORD not in page
        assert await user_by_email(backend, email) is None

        status, location, _ = await operator.post(USERS, fields)
        created = await user_by_email(backend, email)
        assert created is not None
        assert (status, location) == (303, f"{USERS}/{created.id}")
        assert (created.org_id, created.role, created.name) == (
            other.org_id,
            "org_admin",
            "Grace New",
        )
        [entry] = await audited(backend, "user.create", created.id)
        assert entry.actor == operator.person.email and entry.org_id == other.org_id
        # The same address again: the API's conflict.
        status, _, page = await operator.post(USERS, fields)
        assert status == 409 and "already exists" in page

    # With the first password, they sign in.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await sign_in_over_http(http, gateway.url, email)


async def test_users_are_found_by_email_organization_role_and_state(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    async with backend.engine.begin() as conn:
        org = await accounts.get_org(conn, admin.org_id)
        member = await accounts.create_user(conn, f"m-{admin.email}", org.name, name="Member M")
    async with signed_in(gateway.url, backend) as operator:
        await operator.post(f"{USERS}/{member.id}/state", {"disabled": "yes"})

        async def shown(query: str) -> set[str]:
            status, html = await operator.get(f"{USERS}?{query}")
            assert status == 200
            return {email for email in (admin.email, member.email) if f">{email}<" in html}

        assert await shown(f"q={admin.email.split('@')[0].upper()}") == {
            admin.email,
            member.email,
        }
        assert await shown("q=member+m") >= {member.email}
        assert await shown(f"org_id={org.id}") == {admin.email, member.email}
        assert await shown(f"org_id={org.id}&role=org_admin") == {admin.email}
        assert await shown(f"org_id={org.id}&state=disabled") == {member.email}
        assert await shown(f"org_id={org.id}&state=active") == {admin.email}
        assert await shown("q=nobody-has-this-address") == set()


async def test_the_organization_choices_are_those_of_the_page_not_every_one(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        empty = await accounts.create_org(conn, f"empty-{secrets.token_hex(4)}")
    choice = '<option value="{}">{}</option>'
    async with signed_in(gateway.url, backend) as operator:
        status, html = await operator.get(f"{USERS}?q={person.email}")
        assert status == 200 and f">{person.email}<" in html
        async with backend.engine.connect() as conn:
            theirs = await accounts.get_org(conn, person.org_id)
        assert choice.format(theirs.id, theirs.name) in html
        assert empty.id not in html
        # The organization searched for is offered, though nobody of it is listed.
        status, html = await operator.get(f"{USERS}?org_id={empty.id}")
        assert status == 200 and choice.format(empty.id, empty.name) in html
        assert f'list="user-org-choices" value="{empty.id}">' in html


async def test_an_operator_changes_role_state_and_email(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine, name="Lin Changed")
    page = f"{USERS}/{person.user_id}"

    async def stored() -> User:
        async with backend.engine.connect() as conn:
            return await accounts.get_user(conn, person.user_id)

    async with signed_in(gateway.url, backend) as operator:
        status, html = await operator.get(page)
        assert status == 200 and 'id="user-role">user<' in html
        assert f'href="/console/orgs/{person.org_id}/members/{person.user_id}"' in html

        status, location, _ = await operator.post(f"{page}/role", {"role": "org_admin"})
        assert (status, location) == (303, f"{page}?changed=role")
        assert (await stored()).role == "org_admin"
        [entry] = await audited(backend, "user.update", person.user_id)
        assert entry.changes == {"role": ["user", "org_admin"]}

        await operator.post(f"{page}/state", {"disabled": "yes"})
        assert (await stored()).disabled
        status, html = await operator.get(page)
        assert 'id="user-state">disabled<' in html and "Enable the user" in html
        await operator.post(f"{page}/state", {"disabled": "no"})
        assert not (await stored()).disabled

        new_email = f"moved-{secrets.token_hex(4)}@example.com"
        status, location, _ = await operator.post(
            f"{page}/details", {"name": "Lin Renamed", "email": new_email}
        )
        assert (status, location) == (303, f"{page}?changed=details")
        after = await stored()
        assert (after.email, after.name) == (new_email, "Lin Renamed")
        assert await audited(backend, "user.email_change", person.user_id)

        # Bad input changes nothing and is shown beside its form.
        before = await stored()
        for section, fields, says in (
            ("role", {"role": "king"}, "role: Input should be"),
            ("state", {"disabled": "maybe"}, "disabled: yes or no"),
            ("details", {"name": "Lin Renamed", "email": "nowhere"}, "not an email address"),
        ):
            status, _, html = await operator.post(f"{page}/{section}", fields)
            assert status == 400, (section, html)
            assert 'class="error"' in html and says in html
        assert await stored() == before

        # Their own role and state: the API refuses, and says so.
        own = f"{USERS}/{operator.person.user_id}"
        status, html = await operator.get(own)
        assert "You may not disable yourself or change your own role." in html
        assert 'action="' + own + '/role"' not in html
        for section, fields in (("role", {"role": "user"}), ("state", {"disabled": "yes"})):
            status, _, html = await operator.post(f"{own}/{section}", fields)
            assert status == 400 and "You may not disable yourself" in html
        assert (await stored()).role == "org_admin"
        me = await user_by_email(backend, operator.person.email)
        assert me is not None and me.role == "operator" and not me.disabled

        status, _ = await operator.get(f"{USERS}/usr_nobody")
        assert status == 404
        status, _, _ = await operator.post(f"{USERS}/usr_nobody/role", {"role": "user"})
        assert status == 404


async def test_user_pages_in_a_browser_keep_markup_inert(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    marked = await console_person(backend.engine, name=MARKUP)
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    async with browsing_as(browser, gateway.url, operator.email, locale="en-US") as seen:
        page = seen.page
        await page.click(f"nav.main-nav a[href='{USERS}']")
        await page.wait_for_url(gateway.url + USERS)
        await page.fill("#user-search", marked.email)
        await page.click("form[role=search] button")
        await page.wait_for_selector("#users-table")
        assert MARKUP in await page.inner_text("#users-table")
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "operator-users")

        await page.click(f"a[href='{USERS}/{marked.user_id}']")
        await page.wait_for_url(f"{gateway.url}{USERS}/{marked.user_id}")
        assert MARKUP in await page.inner_text("h1")
        await page.click("form[action$='/state'] button")
        await page.wait_for_url(f"{gateway.url}{USERS}/{marked.user_id}?changed=state")
        assert await page.inner_text("#user-state") == "disabled"
        await screenshot(page, "operator-user")
        assert await page.locator("img[src=x]").count() == 0
