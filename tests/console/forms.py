"""Plain-HTTP helpers for the console's tests: a cookie jar, a signed-in one, fetching a
page, posting a form with a CSRF token (or the token of the page it is on), and a session
whose password proof is older than the re-authentication window."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import aiohttp
import httpx
from sqlalchemy import update

from aisonar.accounts import services as accounts
from aisonar.clock import utcnow
from aisonar.store.tables import sessions
from aisonar.testing.gateway_server import RunningGateway
from tests.console.people import csrf_token_in, sign_in_over_http
from tests.support import Backend, writer_drained


def http_session() -> aiohttp.ClientSession:
    """A cookie jar that keeps the console's cookies for the test server's address."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def signed_in(url: str, email: str) -> aiohttp.ClientSession:
    http = http_session()
    await sign_in_over_http(http, url, email)
    return http


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url, allow_redirects=False) as answer:
        return answer.status, await answer.text()


async def submit(
    http: aiohttp.ClientSession, url: str, page: str, action: str, fields: dict[str, str]
) -> tuple[int, str, str]:
    """The form posted with the CSRF token of `page`: status, redirect target, body."""
    _, text = await fetch(http, url + page)
    form = {"csrf_token": csrf_token_in(text), **fields}
    async with http.post(url + action, data=form, allow_redirects=False) as answer:
        return answer.status, answer.headers.get("location", ""), await answer.text()


async def post(
    http: aiohttp.ClientSession, url: str, token: str, fields: dict[str, str]
) -> tuple[int, str, str]:
    """The form posted with this CSRF token: status, redirect target, body."""
    form = {"csrf_token": token, **fields}
    async with http.post(url, data=form, allow_redirects=False) as answer:
        return answer.status, answer.headers.get("location", ""), await answer.text()


def element_text(page_html: str, element_id: str) -> str:
    """The unescaped text inside the element with this id (no nested tags)."""
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', page_html)
    assert found, f"no element #{element_id}"
    return html.unescape(found.group(1))


async def prove_long_ago(backend: Backend, user_id: str) -> None:
    """The person's sessions proved their password longer ago than the window."""
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(sessions)
            .where(sessions.c.user_id == user_id)
            .values(authenticated_at=utcnow() - timedelta(hours=2))
        )


async def make_a_request(gateway: RunningGateway, backend: Backend, email: str) -> None:
    """One request through the gateway with a new key of the person's, recorded: the usage
    pages have a row."""
    async with backend.engine.begin() as conn:
        _, secret = await accounts.create_key(conn, email, name="console test key")
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            gateway.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {secret}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert answer.status_code == 200, answer.text
    await writer_drained(gateway)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Changes reach the gateway's key cache within a poll of its change log."""
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the change never took effect")
