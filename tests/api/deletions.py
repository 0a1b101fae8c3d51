"""What the account deletion tests share: a person with a password, a key and a
distinctive name, and a client that calls from an address of its own on loopback (any of
127.0.0.0/8), so that the addresses the server records are theirs alone."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.privacy.requests import DeletionRequest, get_request
from aisonar.store.tables import deletion_requests, users
from tests.api.test_sessions import PASSWORD

RECEIVED_SUBJECT = "We received your request to delete your account"
REJECTED_SUBJECT = "Your request to delete your account was rejected"
COMPLETED_SUBJECT = "Your account was deleted"


@dataclass(frozen=True)
class Leaver:
    user_id: str
    email: str
    name: str
    org_id: str
    org_name: str
    token: str
    key_secret: str


async def make_leaver(engine: AsyncEngine, org_name: str | None = None) -> Leaver:
    """A person with a password, an access token and a key; a new organization unless
    one is named."""
    tag = secrets.token_hex(5)
    name = f"Zephyrine Quillfeather {tag}"
    email = f"leaver-{tag}@example.org"
    async with engine.begin() as conn:
        if org_name is None:
            org_name = f"leaving-{tag}"
            await accounts.create_org(conn, org_name)
        user = await accounts.create_user(conn, email, org_name, name=name, password=PASSWORD)
        _, token = await tokens.create_token(conn, email, name="tests")
        _, secret = await accounts.create_key(conn, email, name=f"{name}'s laptop")
    return Leaver(user.id, email, name, user.org_id, org_name, token, secret)


class FromAddress:
    """A signed-in browser (or a key's client) calling from `ip`."""

    def __init__(self, base_url: str, ip: str) -> None:
        self.base_url = base_url
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(ip, 0)),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
        )
        self.csrf: str | None = None

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        sent = {**({"x-csrf-token": self.csrf} if self.csrf else {}), **(headers or {})}
        async with self.http.request(
            method, self.base_url + path, json=body, headers=sent
        ) as response:
            return response.status, await response.json(content_type=None)

    async def sign_in(self, email: str, password: str = PASSWORD) -> int:
        status, body = await self.call(
            "POST", "/api/session", {"email": email, "password": password}
        )
        if status == 200:
            self.csrf = body["csrf_token"]
        return status

    async def chat(self, key_secret: str, headers: dict[str, str] | None = None) -> int:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        status, _ = await self.call(
            "POST",
            "/v1/chat/completions",
            body,
            {"Authorization": f"Bearer {key_secret}", **(headers or {})},
        )
        return status

    async def close(self) -> None:
        await self.http.close()


async def request_of(engine: AsyncEngine, user_id: str) -> DeletionRequest:
    async with engine.connect() as conn:
        request_id = (
            await conn.execute(
                select(deletion_requests.c.id)
                .where(deletion_requests.c.user_id == user_id)
                .order_by(deletion_requests.c.requested_at.desc())
            )
        ).scalar_one()
        return await get_request(conn, request_id)


async def eventually(check: Any, timeout_s: float = 5.0) -> None:
    """Wait until the async `check()` is true."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.05)


@asynccontextmanager
async def older_transaction(engine: AsyncEngine) -> AsyncIterator[None]:
    """A transaction begun now and kept open meanwhile, which holds rows that later
    transactions delete: on PostgreSQL one that has written (it has a transaction id), on
    SQLite a reader's snapshot."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN")
            await conn.execute(select(func.count()).select_from(users))
        else:
            await conn.execute(text("SELECT txid_current()"))
        try:
            yield
        finally:
            await conn.rollback()
