"""Organizations with an admin and a member, each with an access token; and a small
client for the management API over real HTTP."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.store.roles import Role


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    org_id: str
    org_name: str
    token: str
    key_id: str
    key_secret: str


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    admin: Person
    member: Person


async def make_person(engine: AsyncEngine, org_name: str, role: Role) -> Person:
    email = f"{role.value}-{secrets.token_hex(4)}@example.com"
    async with engine.begin() as conn:
        user = await accounts.create_user(conn, email, org_name, name="Test", role=role)
        _, token = await tokens.create_token(conn, email, name="tests")
        key, secret = await accounts.create_key(conn, email, name="tests")
    return Person(user.id, email, user.org_id, org_name, token, key.id, secret)


async def make_org(engine: AsyncEngine) -> Org:
    name = f"org-{secrets.token_hex(4)}"
    async with engine.begin() as conn:
        org = await accounts.create_org(conn, name)
    admin = await make_person(engine, name, Role.ORG_ADMIN)
    member = await make_person(engine, name, Role.USER)
    return Org(org.id, name, admin, member)


async def make_operator(engine: AsyncEngine) -> Person:
    name = f"operators-{secrets.token_hex(4)}"
    async with engine.begin() as conn:
        await accounts.create_org(conn, name)
    return await make_person(engine, name, Role.OPERATOR)


@dataclass
class Answer:
    status: int
    body: Any


class Api:
    """Calls `/api/...` on a running gateway as one person (or nobody)."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(self, method: str, path: str, body: Any = None) -> Answer:
        async with (
            aiohttp.ClientSession(headers=self.headers) as session,
            session.request(method, self.base_url + path, json=body) as response,
        ):
            # A binary answer (a ZIP) is read as text too, undecodable bytes replaced.
            text = await response.text(errors="replace")
            if response.content_type != "application/json":
                return Answer(response.status, text)
            return Answer(response.status, json.loads(text) if text else None)

    async def get(self, path: str) -> Answer:
        return await self.call("GET", path)

    async def post(self, path: str, body: Any) -> Answer:
        return await self.call("POST", path, body)

    async def delete(self, path: str) -> Answer:
        return await self.call("DELETE", path)
