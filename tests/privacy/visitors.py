"""A browser visiting the console, as the console's script would call the server: from an
address of its own on loopback (any of 127.0.0.0/8), with a browser's User-Agent, a
cookie jar, and a record of every cookie any response set."""

from __future__ import annotations

import secrets
from http.cookies import Morsel, SimpleCookie
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.store.tables import site_page_views
from tests.api.test_sessions import PASSWORD

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def loopback_address() -> str:
    """An address of loopback that no other test calls from."""
    return "127." + ".".join(str(secrets.randbelow(250) + 2) for _ in range(3))


def unique_path() -> str:
    return f"/t{secrets.token_hex(5)}/keys"


class SiteVisitor:
    def __init__(self, base_url: str, ip: str, user_agent: str = FIREFOX) -> None:
        self.base_url = base_url
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(ip, 0)),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"User-Agent": user_agent},
        )
        self.csrf: str | None = None
        # Every cookie set by any response, in order.
        self.cookies_set: list[Morsel[str]] = []

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        sent = {**({"x-csrf-token": self.csrf} if self.csrf else {}), **(headers or {})}
        async with self.http.request(
            method, self.base_url + path, json=body, headers=sent
        ) as response:
            for header in response.headers.getall("Set-Cookie", []):
                self.cookies_set += SimpleCookie(header).values()
            return response.status, await response.json(content_type=None)

    async def sign_in(self, email: str) -> int:
        status, body = await self.call(
            "POST", "/api/session", {"email": email, "password": PASSWORD}
        )
        if status == 200:
            self.csrf = body["csrf_token"]
        return status

    async def choose(self, analytics: bool, headers: dict[str, str] | None = None) -> int:
        status, _ = await self.call(
            "POST", "/api/cookie-consent", {"analytics": analytics}, headers
        )
        return status

    async def view(
        self, path: str, referrer: str | None = None, headers: dict[str, str] | None = None
    ) -> int:
        body = {"path": path, **({"referrer": referrer} if referrer is not None else {})}
        status, _ = await self.call("POST", "/api/site/pageview", body, headers)
        return status

    async def close(self) -> None:
        await self.http.close()


async def person_with_password(engine: AsyncEngine) -> tuple[str, str]:
    """A new person who can sign in with PASSWORD: their user id and email."""
    org = f"visitors-{secrets.token_hex(4)}"
    email = f"{org}@example.com"
    async with engine.begin() as conn:
        await accounts.create_org(conn, org)
        user = await accounts.create_user(conn, email, org, password=PASSWORD)
    return user.id, email


async def views_of(engine: AsyncEngine, path: str) -> list[dict[str, Any]]:
    """The aggregate rows of a path, as stored."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(site_page_views).where(site_page_views.c.path == path))
        return [dict(row._mapping) for row in rows]
