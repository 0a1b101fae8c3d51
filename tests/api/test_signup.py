"""Self-service sign-up: off unless the operator allows it; then an organization on the
Free plan and its admin, signed in at once; the person confirms they are 18 or over and
accepts the current terms, and both are recorded; bad input creates nothing; limited per
address."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from aisonar.store.tables import consents, organizations, policy_acknowledgements, users
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.people import Api
from tests.mailbox import Mailbox
from tests.privacy.installation import own_installation
from tests.support import Backend

PASSWORD = "Blue-Kettle-Morning-42"


def form(company: str, terms: int | None = None, **changes: Any) -> dict[str, Any]:
    """A valid sign-up, accepting the terms of that version (None: none are published)."""
    suffix = secrets.token_hex(3)
    return {
        "email": f"founder-{suffix}@example.com",
        "password": PASSWORD,
        "name": "Ada Founder",
        "company": company,
        "age_confirmed": True,
        "accepted_terms_version": terms,
        **changes,
    }


async def current_terms(url: str) -> int | None:
    """The version of the terms published there (other tests may have published some)."""
    answer = await Api(url, None).get("/api/policies/terms")
    return None if answer.status == 404 else int(answer.body["version"])


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
        terms = await current_terms(gateway.url)
        async with browser.post(url, json=form(company, terms, password="password123")) as weak:
            assert weak.status == 400 and (await weak.json())["error"]["param"] == "password"
        assert await organizations_named(backend, company) == 0
        async with browser.post(url, json=form(company, terms)) as created:
            assert created.status == 201
            body = await created.json()
        assert body["user"]["role"] == "org_admin" and body["user"]["org_name"] == company
        assert body["user"]["company"] == company
        async with browser.get(gateway.url + "/api/orgs") as mine:
            [org] = await mine.json()
        assert (org["name"], org["plan"]) == (company, "free")
        async with browser.post(url, json=form(company, terms)) as taken:
            assert taken.status == 409
        async with browser.post(url, json=form(company + "-2", terms)) as limited:
            assert limited.status == 429 and limited.headers["retry-after"]
        async with browser.get(gateway.url + "/metrics") as metrics:
            counted = await metrics.text()
        assert 'aisonar_sign_ups_total{result="created"} 1.0' in counted
        assert 'aisonar_sign_ups_total{result="throttled"} 1.0' in counted
        assert await organizations_named(backend, company + "-2") == 0


async def test_a_sign_up_confirms_the_age_and_accepts_the_current_terms(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    async with own_installation(
        tmp_path, mailbox, signup_enabled=True, signups_per_ip_per_hour=100
    ) as site:
        engine = site.backend.engine

        async def sign_up(body: dict[str, Any]) -> tuple[int, Any]:
            async with (
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser,
                browser.post(site.url + "/api/signup", json=body) as answer,
            ):
                found = await answer.json()
                if answer.status != 201:
                    return answer.status, found
                async with browser.get(site.url + "/api/me/policies") as standings:
                    return answer.status, {**found, "policies": await standings.json()}

        async def people() -> int:
            async with engine.connect() as conn:
                return int(
                    (await conn.execute(select(func.count()).select_from(users))).scalar_one()
                )

        present = await people()
        for bad, param in (
            (form("minor-co", age_confirmed=False), "age_confirmed"),
            ({**form("minor-co"), "age_confirmed": "true"}, "age_confirmed"),
            (
                {key: v for key, v in form("minor-co").items() if key != "age_confirmed"},
                "age_confirmed",
            ),
            # Nothing to accept while no terms are published.
            (form("early-co", 1), "accepted_terms_version"),
        ):
            status, refused = await sign_up(bad)
            assert (status, refused["error"]["param"]) == (400, param), bad
        assert "18" in (await sign_up(form("minor-co", age_confirmed=False)))[1]["error"]["message"]
        assert await people() == present
        assert await organizations_named(site.backend, "minor-co") == 0
        status, early = await sign_up(form("early-co"))
        assert status == 201 and early["policies"] == []

        operator = Api(site.url, site.operator.token)
        for text in ("Terms, first.", "Terms, second."):
            published = await operator.post("/api/policies", {"kind": "terms", "body": text})
        terms_id, version = published.body["id"], published.body["version"]
        assert version == 2
        count = await people()
        for wrong in (None, 1, 3):
            status, refused = await sign_up(form("late-co", wrong))
            assert (status, refused["error"]["param"]) == (400, "accepted_terms_version"), wrong
        assert "version 2" in (await sign_up(form("late-co")))[1]["error"]["message"]
        assert await people() == count
        assert await organizations_named(site.backend, "late-co") == 0

        status, joined = await sign_up(form("late-co", version))
        assert status == 201
        [standing] = joined["policies"]
        assert (standing["id"], standing["acknowledged"]) == (terms_id, True)
        assert standing["needs_acknowledgement"] is False
        async with engine.connect() as conn:
            declared = await conn.execute(
                select(
                    consents.c.purpose, consents.c.granted, consents.c.policy_id, consents.c.source
                )
                .where(consents.c.user_id == joined["user"]["id"])
                .order_by(consents.c.id)
            )
            assert [tuple(row) for row in declared] == [
                ("age_confirmed", True, terms_id, "signup"),
                ("terms", True, terms_id, "signup"),
            ]
            acknowledged = await conn.execute(
                select(policy_acknowledgements.c.policy_id).where(
                    policy_acknowledgements.c.user_id == joined["user"]["id"]
                )
            )
            assert list(acknowledged.scalars()) == [terms_id]
