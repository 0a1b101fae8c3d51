"""The audit log, the inbox and the operators' notices page back by
`?before_id=<id>&limit=N`: a full page carries a `Link` header (`rel="next"`) to the older
rows, with the request's filters kept; the pages together are the whole list, and the
last one, not full, has no `Link`."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from aisonar.accounts import services as accounts
from aisonar.notify.notices import record_notice
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Person, make_operator, make_org
from tests.statements import statements
from tests.support import Backend

_NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


async def _pages(url: str, person: Person, path: str) -> list[list[Any]]:
    """Each page, following the `Link` headers from `path`."""
    pages: list[list[Any]] = []
    headers = {"Authorization": f"Bearer {person.token}"}
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
    return pages


async def test_the_audit_log_pages_back_with_its_filters(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        for number in range(7):
            await accounts.create_key(conn, org.member.email, name=f"key {number}")
    [whole] = await _pages(gateway.url, org.admin, "/api/audit?action=key.create&limit=1000")
    assert len(whole) >= 7
    pages = await _pages(gateway.url, org.admin, "/api/audit?action=key.create&limit=3")
    assert all(len(page) == 3 for page in pages[:-1]) and len(pages[-1]) < 3
    assert len(pages) == len(whole) // 3 + 1
    assert [entry for page in pages for entry in page] == whole
    assert {entry["action"] for page in pages for entry in page} == {"key.create"}


async def test_the_inbox_pages_back(gateway: RunningGateway, backend: Backend) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        for number in range(8):
            await accounts.create_key(conn, org.member.email, name=f"key {number}")
    [whole] = await _pages(gateway.url, org.member, "/api/me/notices?limit=1000")
    assert len(whole) >= 8
    pages = await _pages(gateway.url, org.member, "/api/me/notices?limit=4")
    assert all(len(page) == 4 for page in pages[:-1]) and len(pages[-1]) < 4
    assert [notice for page in pages for notice in page] == whole


async def test_every_organizations_notices_page_back_for_operators(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator, org = await make_operator(backend.engine), await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        for number in range(9):
            await record_notice(conn, org.id, "plan_changed", {"plan": f"plan {number}"})
    path = f"/api/notices?org_id={org.id}"
    [whole] = await _pages(gateway.url, operator, path)
    assert len(whole) >= 9 and {notice["org_id"] for notice in whole} == {org.id}
    pages = await _pages(gateway.url, operator, path + "&limit=4")
    assert all(len(page) == 4 for page in pages[:-1]) and len(pages[-1]) < 4
    assert [notice for page in pages for notice in page] == whole
    # Without a filter: the newest 100, read with a LIMIT, the older ones a `Link` away.
    headers = {"Authorization": f"Bearer {operator.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        with statements(gateway.app.runtime.services.engine) as seen:
            async with http.get(f"{gateway.url}/api/notices?limit=3") as answer:
                assert len(await answer.json()) == 3 and "before_id=" in answer.headers["Link"]
    # (The notifier may read notices meanwhile, oldest first.)
    [read] = [statement for statement in seen if "ORDER BY notices.id DESC" in statement]
    assert "LIMIT" in read
