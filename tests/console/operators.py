"""What the tests of the operators' organization, user, money and price pages share: a
signed-in HTTP session, posting a form with the session's CSRF token, the audit entries
of an action."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import select

from aisonar.store.roles import Role
from aisonar.store.tables import audit_log
from tests.console.people import (
    ConsolePerson,
    console_person,
    csrf_token_in,
    sign_in_over_http,
)
from tests.support import Backend


class Operator:
    """An HTTP session of a signed-in person, and the CSRF token of their session."""

    def __init__(self, url: str, http: aiohttp.ClientSession, person: ConsolePerson) -> None:
        self.url, self.http, self.person, self.token = url, http, person, ""

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.url + path, allow_redirects=False) as answer:
            return answer.status, await answer.text()

    async def post(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        """Status, redirect target and body of the form posted with the CSRF token."""
        form = {"csrf_token": self.token, **fields}
        async with self.http.post(self.url + path, data=form, allow_redirects=False) as answer:
            return answer.status, answer.headers.get("location", ""), await answer.text()


class signed_in:
    """`async with signed_in(url, backend, role) as someone:` a new person of that role,
    signed in over plain HTTP."""

    def __init__(self, url: str, backend: Backend, role: Role = Role.OPERATOR, **kw: Any) -> None:
        self.url, self.backend, self.role, self.kw = url, backend, role, kw

    async def __aenter__(self) -> Operator:
        person = await console_person(self.backend.engine, role=self.role, **self.kw)
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        await sign_in_over_http(self.http, self.url, person.email)
        someone = Operator(self.url, self.http, person)
        _, html = await someone.get("/console")
        someone.token = csrf_token_in(html)
        return someone

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()


async def audited(backend: Backend, action: str, object_id: str | None = None) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(audit_log).where(audit_log.c.action == action)
        if object_id is not None:
            query = query.where(audit_log.c.object_id == object_id)
        return list(await conn.execute(query.order_by(audit_log.c.id)))
