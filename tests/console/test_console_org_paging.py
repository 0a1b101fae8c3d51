"""Lists read a page at a time in SQL: an organization's 120 members are three pages of
50, 50 and 20, each member on exactly one, oldest first, the heading counting them all,
the last page linking back and not forward; a person's 55 keys, on their keys page or on
their member's page, are two pages, newest first, read with as many statements on keys as
3 keys; so are 55 support requests, on the person's list and in the operators' inbox."""

from __future__ import annotations

import re
import secrets

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.store.roles import Role
from aisonar.support import services as support
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import fetch, http_session
from tests.console.people import console_person, sign_in_over_http
from tests.statements import statements
from tests.support import Backend

_EMAIL_CELL = re.compile(r"<td>([^<@]+@example\.com)</td>")
_KEY_LINK = re.compile(r'<a href="/console/keys/([^"/]+)" class="key-link">')
_MEMBER_KEY = re.compile(r'<a href="/console/orgs/[^"/]+/members/[^"/]+/keys/([^"/]+)/revoke">')
_TOKEN = re.compile(r'<a href="/console/profile/tokens/([^"/]+)/revoke">')
_OWN_REQUEST = re.compile(r'<a href="/console/support/([^"/]+)">')
_INBOX_REQUEST = re.compile(r'<a href="/console/operator/support/([^"/]+)">')


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


async def test_a_members_keys_page_in_sql(gateway: RunningGateway, backend: Backend) -> None:
    engine = gateway.app.runtime.services.engine
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    ran: list[int] = []
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        for keys in (3, 55):
            async with backend.engine.begin() as conn:
                org = await accounts.get_org(conn, admin.org_id)
                email = f"keys-{keys}-{secrets.token_hex(3)}@example.com"
                user = await accounts.create_user(conn, email, org.name)
                for number in range(keys):
                    await accounts.create_key(conn, email, name=f"key {number}")
                made = await accounts.list_keys(conn, email)
            member = f"{gateway.url}/console/orgs/{admin.org_id}/members/{user.id}"
            shown: list[list[str]] = []
            for number in (1, 2):
                with statements(engine) as seen:
                    status, html = await fetch(http, f"{member}?page={number}")
                assert status == 200, html
                shown.append(_MEMBER_KEY.findall(html))
                if number == 1:
                    on_keys = [statement for statement in seen if "api_keys" in statement]
                    assert all("count(" in found or "LIMIT" in found for found in on_keys)
                    ran.append(len(on_keys))
            assert [key_id for page in shown for key_id in page] == [
                key.id for key in reversed(made)
            ]
            assert [len(page) for page in shown] == ([3, 0] if keys == 3 else [50, 5])
    assert f"/members/{user.id}?page=1" in html and f"/members/{user.id}?page=3" not in html
    assert ran == [2, 2]  # the count and the page


async def _open_requests(backend: Backend, user_id: str, count: int) -> list[str]:
    """The person's requests as the list shows them, most recently active first."""
    async with backend.engine.begin() as conn:
        for number in range(count):
            await support.open_request(conn, user_id, f"help {number}", "please")
        found = await support.list_requests(conn, user_id=user_id)
    return [request.id for request in found]


async def test_support_requests_page_in_sql(gateway: RunningGateway, backend: Backend) -> None:
    engine = gateway.app.runtime.services.engine
    staff = await console_person(backend.engine, role=Role.OPERATOR)
    ran: list[tuple[int, int, int]] = []
    for count in (3, 55):
        person = await console_person(backend.engine)
        made = await _open_requests(backend, person.user_id, count)
        shown: list[list[str]] = []
        async with http_session() as http:
            await sign_in_over_http(http, gateway.url, person.email)
            for number in (1, 2):
                with statements(engine) as seen:
                    status, html = await fetch(http, f"{gateway.url}/console/support?page={number}")
                assert status == 200, html
                shown.append(_OWN_REQUEST.findall(html))
                if number == 1:
                    own = [statement for statement in seen if "support_requests" in statement]
        assert [request for page in shown for request in page] == made
        # Past the last page, the way back leads to the last one.
        assert "/console/support?page=1" in html and "/console/support?page=3" not in html
        assert [len(page) for page in shown] == ([3, 0] if count == 3 else [50, 5])
        async with http_session() as http:
            await sign_in_over_http(http, gateway.url, staff.email)
            with statements(engine) as seen:
                status, html = await fetch(
                    http, f"{gateway.url}/console/operator/support?status=all"
                )
            assert status == 200, html
            # Other tests' requests may be listed too: this page holds 50 of them at most.
            assert 50 >= len(_INBOX_REQUEST.findall(html)) >= min(count, 50)
        inbox = [statement for statement in seen if "support_requests" in statement]
        people = [statement for statement in seen if "users.id IN" in statement]
        assert all("count(" in found or "LIMIT" in found for found in own + inbox)
        ran.append((len(own), len(inbox), len(people)))
    # The count and the page of requests; the people on the page in one query.
    assert ran == [(2, 2, 1), (2, 2, 1)]


async def test_access_tokens_page_in_sql(gateway: RunningGateway, backend: Backend) -> None:
    engine = gateway.app.runtime.services.engine
    ran: list[int] = []
    for count in (3, 55):
        person = await console_person(backend.engine)
        async with backend.engine.begin() as conn:
            for number in range(count):
                await tokens.create_token(conn, person.email, name=f"token {number}")
            made = await tokens.list_tokens(conn, person.user_id)
        shown: list[list[str]] = []
        async with http_session() as http:
            await sign_in_over_http(http, gateway.url, person.email)
            for number in (1, 2):
                with statements(engine) as seen:
                    address = f"{gateway.url}/console/profile/tokens?page={number}"
                    status, html = await fetch(http, address)
                assert status == 200, html
                shown.append(_TOKEN.findall(html))
                if number == 1:
                    on_tokens = [statement for statement in seen if "access_tokens" in statement]
                    assert all("count(" in found or "LIMIT" in found for found in on_tokens)
                    ran.append(len(on_tokens))
        assert [token for page in shown for token in page] == [t.id for t in reversed(made)]
        assert [len(page) for page in shown] == ([3, 0] if count == 3 else [50, 5])
    assert "/console/profile/tokens?page=1" in html and "tokens?page=3" not in html
    assert ran == [2, 2]  # the count and the page
