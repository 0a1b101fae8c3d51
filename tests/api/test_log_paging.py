"""The audit log and the inbox page back by `?before_id=<id>&limit=N`: a full page carries
a `Link` header (`rel="next"`) to the older rows, with the request's filters kept; the
pages together are the whole list, and the last one, not full, has no `Link`."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from aisonar.accounts import services as accounts
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Person, make_org
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
