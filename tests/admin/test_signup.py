"""Self-service sign-up: off unless the operator allows it; then an organization on the
Free plan and its admin, signed in at once; bad input creates nothing; limited per
address."""

from __future__ import annotations

import secrets

import aiohttp
from sqlalchemy import func, select

from aisonar.store.tables import organizations
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.support import Backend

PASSWORD = "Blue-Kettle-Morning-42"


def form(company: str, **changes: str) -> dict[str, str]:
    suffix = secrets.token_hex(3)
    return {
        "email": f"founder-{suffix}@example.com",
        "password": PASSWORD,
        "name": "Ada Founder",
        "company": company,
        **changes,
    }


async def organizations_named(backend: Backend, name: str) -> int:
    async with backend.engine.connect() as conn:
        query = select(func.count()).where(organizations.c.name == name)
        return int((await conn.execute(query)).scalar_one())


async def test_sign_up_is_off_by_default(gateway: RunningGateway) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(gateway.url + "/api/signup", json=form("closed-co")) as response,
    ):
        assert response.status == 404


async def test_a_sign_up_creates_an_organization_and_its_signed_in_admin(
    backend: Backend,
) -> None:
    settings = backend.settings.model_copy(
        update={"signup_enabled": True, "signups_per_ip_per_hour": 3}
    )
    company = f"startup-{secrets.token_hex(3)}"
    async with (
        running_gateway(settings) as gateway,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
    ):
        url = gateway.url + "/api/signup"
        async with browser.post(url, json=form(company, password="password123")) as weak:
            assert weak.status == 400 and (await weak.json())["error"]["param"] == "password"
        assert await organizations_named(backend, company) == 0
        async with browser.post(url, json=form(company)) as created:
            assert created.status == 201
            body = await created.json()
        assert body["user"]["role"] == "org_admin" and body["user"]["org_name"] == company
        async with browser.get(gateway.url + "/api/orgs") as mine:
            [org] = await mine.json()
        assert (org["name"], org["plan"]) == (company, "free")
        async with browser.post(url, json=form(company)) as taken:
            assert taken.status == 409
        async with browser.post(url, json=form(company + "-2")) as limited:
            assert limited.status == 429 and limited.headers["retry-after"]
        async with browser.get(gateway.url + "/metrics") as metrics:
            counted = await metrics.text()
        assert 'aisonar_sign_ups_total{result="created"} 1.0' in counted
        assert 'aisonar_sign_ups_total{result="throttled"} 1.0' in counted
        assert await organizations_named(backend, company + "-2") == 0
