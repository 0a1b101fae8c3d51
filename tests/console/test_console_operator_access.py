"""Every page of the operators' organization, plan, user, recharge, code and price areas
refuses a user and an organization admin with the API's 403 page, their forms change
nothing (even aimed at the admin's own organization), and their navigation has none of
these pages; without a session each page sends the visitor to sign in."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from fastapi.routing import APIRoute
from sqlalchemy import select

from aisonar.billing import codes
from aisonar.console import (
    operator_codes,
    operator_orgs,
    operator_prices,
    operator_recharges,
    operator_users,
)
from aisonar.store.roles import Role
from aisonar.store.tables import (
    ledger_entries,
    model_prices,
    organizations,
    plans,
    redemption_codes,
    users,
)
from aisonar.testing.gateway_server import RunningGateway
from tests.console.operators import signed_in
from tests.console.people import console_person
from tests.support import Backend

ROUTERS = (operator_orgs, operator_users, operator_recharges, operator_codes, operator_prices)
# Forms as an operator would fill them, each of which would change something.
FIELDS = {
    "name": "taken-over",
    "plan": "enterprise",
    "models": "stolen-*",
    "retention_days": "3650",
    "low_balance_threshold": "999",
    "email": "intruder@example.com",
    "role": "operator",
    "disabled": "yes",
    "amount": "1000000",
    "note": "free money",
    "count": "5",
    "input": "0",
    "output": "0",
    "multiplier": "0.01",
}


def operator_routes() -> list[tuple[str, str]]:
    found = []
    for module in ROUTERS:
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods or ():
                found.append((method, route.path))
    return found


def filled(path: str, params: dict[str, str]) -> str:
    """The route's path with its parameters."""
    return re.sub(r"\{(\w+)\}", lambda found: params[found.group(1)], path)


async def snapshot(backend: Backend) -> list[Any]:
    async with backend.engine.connect() as conn:
        rows: list[Any] = []
        for table in (organizations, users, ledger_entries, redemption_codes, model_prices, plans):
            rows += list(await conn.execute(select(table)))
        return rows


async def test_others_get_403_and_change_nothing(gateway: RunningGateway, backend: Backend) -> None:
    victim = await console_person(backend.engine, role=Role.ORG_ADMIN)
    async with backend.engine.begin() as conn:
        batch = await codes.create_codes(conn, amount="1", count=1, expires_at=None)
    routes = operator_routes()
    assert len(routes) >= 18
    for role in (Role.USER, Role.ORG_ADMIN):
        async with signed_in(gateway.url, backend, role) as someone:
            _, home = await someone.get("/console")
            assert "/console/operator/" not in home.replace("/console/operator/support", "")
            for own in (False, True):
                # Aimed at another organization, then at their own.
                target = someone.person if own else victim
                params = {
                    "org_id": target.org_id,
                    "user_id": target.user_id,
                    "batch": batch.batch,
                    "plan": "free",
                    "section": "plan",
                }
                fields = FIELDS | {"org_id": target.org_id}
                before = await snapshot(backend)
                for method, path in routes:
                    url = filled(path, params)
                    if method == "GET":
                        status, page = await someone.get(url)
                    else:
                        status, _, page = await someone.post(url, fields)
                    assert status == 403, (role, method, url, status)
                    assert "Only an operator may do this." in page
                    assert victim.email not in page
                assert await snapshot(backend) == before, (role, own)


async def test_without_a_session_each_page_asks_to_sign_in(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession() as http:
        for method, path in operator_routes():
            if method != "GET" or "{" in path:
                continue
            async with http.get(gateway.url + path, allow_redirects=False) as answer:
                assert answer.status == 303, path
                assert answer.headers["location"].startswith("/console/sign-in?next=")


async def test_the_pages_speak_simplified_chinese(
    gateway: RunningGateway, backend: Backend
) -> None:
    async with signed_in(gateway.url, backend) as operator:
        async with backend.engine.begin() as conn:
            await conn.execute(
                users.update()
                .where(users.c.id == operator.person.user_id)
                .values(language="zh-Hans")
            )
            batch = await codes.create_codes(conn, amount="1", count=2, expires_at=None)
        params = {
            "org_id": operator.person.org_id,
            "user_id": operator.person.user_id,
            "batch": batch.batch,
        }
        for method, path in operator_routes():
            if method != "GET":
                continue
            status, page = await operator.get(filled(path, params))
            assert status == 200, path
            assert '<html lang="zh-Hans">' in page and "<h1>" in page
            heading = page[page.index("<h1>") + 4 : page.index("</h1>")]
            assert not re.search(r"[A-Za-z]{4,}", heading.replace("Sonar", "")) or path.endswith(
                "/users/{user_id}"
            ), (path, heading)
        status, _, page = await operator.post(
            "/console/operator/recharges",
            {"org_id": operator.person.org_id, "amount": "-5", "note": "", "reference": ""},
        )
        assert status == 400 and "必须大于零" in page
        _, page = await operator.get(f"/console/operator/codes/{batch.batch}/revoke")
        assert "其中 2 个未兑换的兑换码将无法再兑换" in page
