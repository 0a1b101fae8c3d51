"""The management API's lists of organizations, members, keys, access tokens, webhook
endpoints, alert rules, deletion requests, support requests and code batches page by
keyset: `?limit=N` answers N rows and a `Link` header to the next page
(`?after=<last id>`), none on the last; the pages together are the whole list, which a
request without parameters still answers as it did; an unknown cursor, or one the caller
cannot see, is a 400; a page is read with a LIMIT in as many statements whatever the
number of rows."""

from __future__ import annotations

import re
import secrets
from typing import Any

import aiohttp
from sqlalchemy import update

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.accounts.listing import Page
from aisonar.alerts.models import AlertKind, RuleSettings
from aisonar.alerts.services import create_rule
from aisonar.billing import codes
from aisonar.clock import new_id, utcnow
from aisonar.crypto import SecretBox
from aisonar.notify import webhooks
from aisonar.store.privacy_tables import deletion_requests
from aisonar.store.tables import redemption_codes
from aisonar.support import services as support
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Person, make_operator, make_org
from tests.statements import statements
from tests.support import Backend

_NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


async def _pages(
    url: str, person: Person, path: str, whole_path: str | None = None
) -> tuple[list[list[Any]], list[Any]]:
    """Each page, following the `Link` headers from `path`, and the list asked whole
    (`path` without paging, or `whole_path` for a list that always pages)."""
    headers = {"Authorization": f"Bearer {person.token}"}
    pages: list[list[Any]] = []
    async with aiohttp.ClientSession(headers=headers) as http:
        following: str | None = path
        while following is not None:
            async with http.get(url + following) as answer:
                assert answer.status == 200, await answer.text()
                pages.append(await answer.json())
                link = answer.headers.get("Link")
            following = None
            if link is not None:
                found = _NEXT.match(link)
                assert found, link
                following = found.group(1)
        async with http.get(url + (whole_path or _without_paging(path))) as answer:
            assert "Link" not in answer.headers
            whole = await answer.json()
    return pages, whole


def _without_paging(path: str) -> str:
    """The path with its own filters but neither `limit` nor `after`."""
    where, _, query = path.partition("?")
    kept = [part for part in query.split("&") if part.split("=")[0] not in ("limit", "after")]
    return where + ("?" + "&".join(kept) if kept else "")


async def test_organizations_page_by_keyset(gateway: RunningGateway, backend: Backend) -> None:
    operator = await make_operator(backend.engine)
    async with backend.engine.begin() as conn:
        for _ in range(25):
            await accounts.create_org(conn, f"paged-{secrets.token_hex(4)}")
    pages, whole = await _pages(gateway.url, operator, "/api/orgs?limit=10")
    assert len(whole) >= 26
    assert [len(page) for page in pages[:-1]] == [10] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= 10
    assert [org for page in pages for org in page] == whole


async def test_members_and_keys_page_by_keyset(gateway: RunningGateway, backend: Backend) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        for number in range(23):
            email = f"paged-{number}-{secrets.token_hex(3)}@example.com"
            await accounts.create_user(conn, email, org.name)
        for number in range(11):
            await accounts.create_key(conn, org.member.email, name=f"key {number}")
    members = f"/api/orgs/{org.id}/users"
    pages, whole = await _pages(gateway.url, org.admin, members + "?limit=10")
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [user for page in pages for user in page] == whole
    keys = f"/api/users/{org.member.user_id}/keys"
    pages, whole = await _pages(gateway.url, org.admin, keys + "?limit=5")
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [key for page in pages for key in page] == whole
    # A page as long as what is left has no next page.
    pages, _ = await _pages(gateway.url, org.admin, keys + "?limit=12")
    assert [len(page) for page in pages] == [12]
    pages, mine = await _pages(gateway.url, org.member, "/api/me/keys?limit=5")
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [key for page in pages for key in page] == mine == whole


async def test_an_unknown_cursor_and_a_bad_limit_are_refused(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = await make_operator(backend.engine)
    headers = {"Authorization": f"Bearer {operator.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for query, status in (
            ("?after=org_nothing&limit=5", 400),
            ("?limit=0", 400),
            ("?limit=1001", 400),
        ):
            async with http.get(f"{gateway.url}/api/orgs{query}") as answer:
                assert answer.status == status, (query, await answer.text())


async def test_a_cursor_from_another_organization_is_refused_like_an_unknown_one(
    gateway: RunningGateway, backend: Backend
) -> None:
    mine, theirs = await make_org(backend.engine), await make_org(backend.engine)
    headers = {"Authorization": f"Bearer {mine.admin.token}"}
    path = f"{gateway.url}/api/orgs/{mine.id}/users?limit=5&after="
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(path + theirs.member.user_id) as foreign:
            foreign_answer = (foreign.status, (await foreign.json())["error"]["param"])
        async with http.get(path + "usr_nothing") as unknown:
            unknown_answer = (unknown.status, (await unknown.json())["error"]["param"])
        async with http.get(path + mine.member.user_id) as own:
            assert own.status == 200
    assert foreign_answer == unknown_answer == (400, "after")


async def test_a_key_of_someone_else_is_refused_as_their_own_keys_cursor(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    answers = []
    for person, after in ((org.admin, org.member.key_id), (org.admin, "key_nothing")):
        headers = {"Authorization": f"Bearer {person.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            url = f"{gateway.url}/api/me/keys?limit=5&after={after}"
            async with http.get(url) as answer:
                answers.append((answer.status, (await answer.json())["error"]["param"]))
    assert answers == [(400, "after"), (400, "after")]
    headers = {"Authorization": f"Bearer {org.member.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = f"{gateway.url}/api/me/keys?limit=5&after={org.member.key_id}"
        async with http.get(url) as own:
            assert own.status == 200 and await own.json() == []


async def test_alert_rules_page_by_keyset(gateway: RunningGateway, backend: Backend) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        for number in range(7):
            await create_rule(conn, org.id, RuleSettings(AlertKind.COST, str(number + 1)))
    pages, whole = await _pages(gateway.url, org.admin, f"/api/orgs/{org.id}/alerts?limit=3")
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [rule for page in pages for rule in page] == whole


async def test_deletion_requests_page_by_keyset_with_their_filter(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator, org = await make_operator(backend.engine), await make_org(backend.engine)
    at = utcnow()  # one instant for all: the id orders them
    async with backend.engine.begin() as conn:
        for number in range(5):
            email = f"leaving-{number}-{secrets.token_hex(3)}@example.com"
            user = await accounts.create_user(conn, email, org.name)
            await conn.execute(
                deletion_requests.insert().values(
                    id=new_id("del"),
                    user_id=user.id,
                    org_id=org.id,
                    requested_at=at,
                    status="requested",
                )
            )
    pages, whole = await _pages(
        gateway.url, operator, "/api/deletion-requests?status=requested&limit=2"
    )
    assert len(whole) >= 5 and {request["status"] for request in whole} == {"requested"}
    assert [len(page) for page in pages[:-1]] == [2] * (len(pages) - 1)
    assert [request for page in pages for request in page] == whole


async def test_code_batches_page_by_keyset_newest_first_in_as_many_statements_for_any_number(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = await make_operator(backend.engine)
    async with backend.engine.begin() as conn:
        made = [
            (await codes.create_codes(conn, amount="1", count=2, expires_at=None)).batch
            for _ in range(7)
        ]
        # The last four made in one instant: their names order them.
        await conn.execute(
            update(redemption_codes)
            .where(redemption_codes.c.batch.in_(made[3:]))
            .values(created_at=utcnow())
        )
    # Batches page by 50 when asked without a limit; other tests' batches may be more.
    pages, whole = await _pages(
        gateway.url, operator, "/api/codes/batches?limit=3", "/api/codes/batches?limit=500"
    )
    assert [batch for page in pages for batch in page] == whole
    assert [len(page) for page in pages[:-1]] == [3] * (len(pages) - 1)
    listed = [batch["batch"] for batch in whole if batch["batch"] in made]
    assert listed == sorted(made[3:], reverse=True) + made[2::-1]

    engine = gateway.app.runtime.services.engine
    after = listed[listed.index(made[5]) + 1]
    ran: list[list[str]] = []
    for more in (0, 60):
        async with backend.engine.begin() as conn:
            for _ in range(more):
                await codes.create_codes(conn, amount="1", count=1, expires_at=None)
        headers = {"Authorization": f"Bearer {operator.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            with statements(engine) as seen:
                url = f"{gateway.url}/api/codes/batches?limit=3&after={made[5]}"
                async with http.get(url) as answer:
                    assert [batch["batch"] for batch in await answer.json()][:1] == [after]
        ran.append([statement for statement in seen if "redemption_codes" in statement])
    # The cursor's row, then one LIMITed page, whatever the number of batches.
    assert [len(on_codes) for on_codes in ran] == [2, 2]
    assert all("LIMIT" in on_codes[-1] for on_codes in ran)


async def test_code_batches_refuse_an_offset_and_an_unknown_cursor(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = await make_operator(backend.engine)
    headers = {"Authorization": f"Bearer {operator.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for query, param in (("?offset=50", "query.offset"), ("?after=batch_nothing", "after")):
            async with http.get(f"{gateway.url}/api/codes/batches{query}") as answer:
                refused = (answer.status, (await answer.json())["error"]["param"])
                assert refused == (400, param), query


async def test_access_tokens_and_webhook_endpoints_page_by_keyset(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    box = SecretBox(backend.settings.resolved_secret_key())
    async with backend.engine.begin() as conn:
        for number in range(11):  # and the one every test person has
            await tokens.create_token(conn, org.member.email, name=f"token {number}")
        for number in range(7):
            url = f"https://hooks.example.com/{number}"
            await webhooks.create_endpoint(conn, box, org.id, url)
    pages, whole = await _pages(gateway.url, org.member, "/api/me/tokens?limit=5")
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [token for page in pages for token in page] == whole
    assert [token["name"] for token in whole] == ["tests"] + [f"token {n}" for n in range(11)]
    hooks = f"/api/orgs/{org.id}/webhooks"
    pages, whole = await _pages(gateway.url, org.admin, hooks + "?limit=3")
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [hook for page in pages for hook in page] == whole
    assert [hook["url"] for hook in whole] == [f"https://hooks.example.com/{n}" for n in range(7)]
    # A page as long as what is left has no next page.
    pages, _ = await _pages(gateway.url, org.admin, hooks + "?limit=7")
    assert [len(page) for page in pages] == [7]


async def test_a_token_or_endpoint_not_the_callers_is_refused_as_a_cursor(
    gateway: RunningGateway, backend: Backend
) -> None:
    mine, theirs = await make_org(backend.engine), await make_org(backend.engine)
    box = SecretBox(backend.settings.resolved_secret_key())
    async with backend.engine.begin() as conn:
        [their_token] = await tokens.list_tokens(conn, theirs.member.user_id)
        [my_token] = await tokens.list_tokens(conn, mine.member.user_id)
        their_hook, _ = await webhooks.create_endpoint(conn, box, theirs.id, "https://t.example")
        my_hook, _ = await webhooks.create_endpoint(conn, box, mine.id, "https://m.example")
    refused = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {mine.member.token}"}) as h:
        for after in (their_token.id, "pat_nothing"):
            async with h.get(f"{gateway.url}/api/me/tokens?limit=5&after={after}") as answer:
                refused.append((answer.status, (await answer.json())["error"]["param"]))
        async with h.get(f"{gateway.url}/api/me/tokens?limit=5&after={my_token.id}") as own:
            assert own.status == 200 and await own.json() == []
    hooks = f"{gateway.url}/api/orgs/{mine.id}/webhooks?limit=5&after="
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {mine.admin.token}"}) as h:
        for after in (their_hook.id, "whk_nothing"):
            async with h.get(hooks + after) as answer:
                refused.append((answer.status, (await answer.json())["error"]["param"]))
        async with h.get(hooks + my_hook.id) as own:
            assert own.status == 200 and await own.json() == []
    assert refused == [(400, "after")] * 4


async def _statements_on(
    gateway: RunningGateway, person: Person, path: str, table: str
) -> list[str]:
    """The statements on `table` that answering `path` as the person ran. The gateway's
    background tasks (the notifier looking up or delivering to endpoints) may run some
    meanwhile; they only add, so the fewest seen over three answers are the request's."""
    headers = {"Authorization": f"Bearer {person.token}"}
    runs = []
    async with aiohttp.ClientSession(headers=headers) as http:
        for _ in range(3):
            with statements(gateway.app.runtime.services.engine) as seen:
                async with http.get(gateway.url + path) as answer:
                    assert answer.status == 200, await answer.text()
                    assert len(await answer.json()) == 2
            runs.append([statement for statement in seen if table in statement])
    return min(runs, key=len)


async def test_tokens_and_endpoints_are_read_a_page_at_a_time_whatever_their_number(
    gateway: RunningGateway, backend: Backend
) -> None:
    box = SecretBox(backend.settings.resolved_secret_key())
    ran: list[tuple[list[str], list[str]]] = []
    for more in (3, 19):  # an organization has at most 20 endpoints
        org = await make_org(backend.engine)
        async with backend.engine.begin() as conn:
            for number in range(more * 3):
                await tokens.create_token(conn, org.member.email, name=f"token {number}")
            for number in range(more):
                await webhooks.create_endpoint(conn, box, org.id, f"https://h.example/{number}")
            [first] = await tokens.list_tokens(conn, org.member.user_id, Page(limit=1))
            [hook, *_] = await webhooks.list_endpoints(conn, org.id, limit=1)
        on_tokens = await _statements_on(
            gateway, org.member, f"/api/me/tokens?limit=2&after={first.id}", "access_tokens"
        )
        on_hooks = await _statements_on(
            gateway,
            org.admin,
            f"/api/orgs/{org.id}/webhooks?limit=2&after={hook.id}",
            "webhook_endpoints",
        )
        ran.append((on_tokens, on_hooks))
    # The token's own check as the caller's credentials, the cursor's row, one LIMITed page.
    assert [(len(on_tokens), len(on_hooks)) for on_tokens, on_hooks in ran] == [(3, 2), (3, 2)]
    assert all("LIMIT" in listed[-1] for pair in ran for listed in pair)


async def test_support_requests_page_by_keyset_most_recently_active_first(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator, org = await make_operator(backend.engine), await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        made = [
            (await support.open_request(conn, org.member.user_id, f"help {n}", "please")).id
            for n in range(7)
        ]
    pages, mine = await _pages(gateway.url, org.member, "/api/me/support?limit=3")
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [request for page in pages for request in page] == mine
    assert sorted(request["id"] for request in mine) == sorted(made)
    # Every person's, for operators, with the filter kept from page to page.
    pages, whole = await _pages(gateway.url, operator, "/api/support?status=open&limit=2")
    assert [len(page) for page in pages[:-1]] == [2] * (len(pages) - 1)
    assert {request["status"] for page in pages for request in page} == {"open"}
    paged = [request["id"] for page in pages for request in page if request["id"] in made]
    assert (
        paged
        == [request["id"] for request in whole if request["id"] in made]
        == [request["id"] for request in mine]
    )
    after = mine[0]["id"]
    on_requests = await _statements_on(
        gateway, org.member, f"/api/me/support?limit=2&after={after}", "support_requests"
    )
    # The cursor's row, one LIMITed page.
    assert len(on_requests) == 2 and "LIMIT" in on_requests[-1]
