"""Lists read a page at a time in SQL: an organization's 120 members are three pages of
50, 50 and 20, each member on exactly one, oldest first, the heading counting them all,
the last page linking back and not forward; a person's 55 keys are two pages, newest
first, read with as many statements on keys as 3 keys."""

from __future__ import annotations

import re
import secrets

from aisonar.accounts import services as accounts
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import fetch, http_session
from tests.console.people import console_person, sign_in_over_http
from tests.statements import statements
from tests.support import Backend

_EMAIL_CELL = re.compile(r"<td>([^<@]+@example\.com)</td>")
_KEY_LINK = re.compile(r'<a href="/console/keys/([^"/]+)" class="key-link">')


async def test_the_members_list_pages_in_sql(gateway: RunningGateway, backend: Backend) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    async with backend.engine.begin() as conn:
        org = await accounts.get_org(conn, admin.org_id)
        for number in range(119):
            email = f"paged-{number:03}-{secrets.token_hex(3)}@example.com"
            await accounts.create_user(conn, email, org.name)
        everyone = await accounts.list_users(conn, org.name)
    members = f"/console/orgs/{admin.org_id}/members"
    shown: list[list[str]] = []
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        for number in (1, 2, 3):
            status, html = await fetch(http, f"{gateway.url}{members}?page={number}")
            assert status == 200, html
            assert "120 members" in html
            shown.append(_EMAIL_CELL.findall(html))
        status, past = await fetch(http, f"{gateway.url}{members}?page=4")
    assert [len(page) for page in shown] == [50, 50, 20]
    assert [email for page in shown for email in page] == [user.email for user in everyone]
    assert f"{members}?page=2" in html and f"{members}?page=4" not in html
    assert status == 200 and not _EMAIL_CELL.findall(past)


async def test_the_keys_list_pages_in_sql(gateway: RunningGateway, backend: Backend) -> None:
    person = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        for number in range(55):
            await accounts.create_key(conn, person.email, name=f"key {number}")
        made = await accounts.list_keys(conn, person.email)
    shown: list[list[str]] = []
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, person.email)
        for number in (1, 2):
            status, html = await fetch(http, f"{gateway.url}/console/keys?page={number}")
            assert status == 200, html
            shown.append(_KEY_LINK.findall(html))
    assert [len(page) for page in shown] == [50, 5]
    assert [key_id for page in shown for key_id in page] == [key.id for key in reversed(made)]
    assert "/console/keys?page=1" in html and "/console/keys?page=3" not in html


async def test_the_keys_page_runs_as_many_statements_for_many_keys_as_for_few(
    gateway: RunningGateway, backend: Backend
) -> None:
    engine = gateway.app.runtime.services.engine
    ran: list[int] = []
    for keys in (3, 55):
        person = await console_person(backend.engine)
        async with backend.engine.begin() as conn:
            for number in range(keys):
                await accounts.create_key(conn, person.email, name=f"key {number}")
        async with http_session() as http:
            await sign_in_over_http(http, gateway.url, person.email)
            with statements(engine) as seen:
                status, html = await fetch(http, f"{gateway.url}/console/keys")
            assert status == 200, html
            assert len(_KEY_LINK.findall(html)) == min(keys, 50)
        # Background work (the notices of the new keys) runs meanwhile: count the reads of keys.
        on_keys = [statement for statement in seen if "api_keys" in statement]
        ran.append(len(on_keys))
        # The rows come a page at a time from the database, not whole to be cut here.
        assert all("count(" in statement or "LIMIT" in statement for statement in on_keys)
    assert ran == [2, 2]  # the count and the page
