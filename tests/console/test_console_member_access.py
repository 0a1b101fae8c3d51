"""What a member signs in and calls with, given from their page: their organization's
admin sets their password (checked like any; every session of theirs ends; audited; they
are told by mail), and makes an API key for a member who has no password, its secret
shown once; bad input is shown beside its form and changes nothing; nobody sets their own
password there, and a plain member reaches none of it."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.store.roles import Role
from aisonar.store.tables import api_keys
from aisonar.testing.gateway_server import RunningGateway
from tests.console.operators import audited, signed_in
from tests.console.people import PASSWORD
from tests.mailbox import Mailbox, bodies
from tests.support import Backend

NEW_PASSWORD = "Copper-Lantern-Harbor-58"


async def sign_in(url: str, email: str, password: str) -> int:
    form = {"email": email, "password": password, "next": "/console"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/console/sign-in", data=form, allow_redirects=False) as answer,
    ):
        return answer.status


async def test_an_admin_sets_a_members_password_and_they_are_signed_out_and_told(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    async with signed_in(gateway.url, backend, Role.ORG_ADMIN) as admin:
        async with backend.engine.begin() as conn:
            org = await accounts.get_org(conn, admin.person.org_id)
            user = await accounts.create_user(
                conn, f"pw-{admin.person.email}", org.name, name="Pat", password=PASSWORD
            )
        page = f"/console/orgs/{org.id}/members/{user.id}"
        async with signed_in(gateway.url, backend, Role.USER) as bystander:
            pass
        status, html = await admin.get(page)
        assert status == 200 and 'action="' + page + '/password"' in html

        member = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        try:
            form = {"email": user.email, "password": PASSWORD, "next": "/console"}
            async with member.post(gateway.url + "/console/sign-in", data=form) as answer:
                assert answer.status == 200
            status, _, html = await admin.post(f"{page}/password", {"password": "short"})
            assert status == 400 and 'class="error"' in html and "at least" in html
            assert "short" not in html.split('id="password-heading"')[1]
            async with member.get(gateway.url + "/console", allow_redirects=False) as answer:
                assert answer.status == 200

            status, location, _ = await admin.post(f"{page}/password", {"password": NEW_PASSWORD})
            assert (status, location) == (303, f"{page}?password=set#password")
            async with member.get(gateway.url + "/console", allow_redirects=False) as answer:
                assert answer.status == 303
        finally:
            await member.close()
        status, html = await admin.get(f"{page}?password=set")
        assert 'id="password-set"' in html
        assert await sign_in(gateway.url, user.email, PASSWORD) == 401
        assert await sign_in(gateway.url, user.email, NEW_PASSWORD) == 303

        [entry] = await audited(backend, "user.password_set", user.id)
        assert entry.actor == admin.person.email and entry.org_id == org.id
        assert entry.changes == {"password_set": [True, True], "sessions_ended": [None, 1]}
        assert NEW_PASSWORD not in str(tuple(entry))
        told = await mailbox.wait_for_subject(user.email, "Your password was changed")
        assert "An administrator set it for you." in bodies(told)[0]

        # Their own password is changed on their profile, with the current one.
        own = f"/console/orgs/{org.id}/members/{admin.person.user_id}"
        status, html = await admin.get(own)
        assert 'action="' + own + '/password"' not in html and "/console/profile" in html
        status, _, html = await admin.post(f"{own}/password", {"password": NEW_PASSWORD})
        assert status == 400 and "on your profile" in html
        assert await sign_in(gateway.url, admin.person.email, PASSWORD) == 303
        # Another organization's member is no member of theirs.
        status, _, _ = await admin.post(
            f"/console/orgs/{org.id}/members/{bystander.person.user_id}/password",
            {"password": NEW_PASSWORD},
        )
        assert status == 404

    # A plain member of the organization may not.
    async with signed_in(gateway.url, backend, Role.USER) as plain:
        status, _, _ = await plain.post(
            f"/console/orgs/{plain.person.org_id}/members/{plain.person.user_id}/password",
            {"password": NEW_PASSWORD},
        )
        assert status == 403
    assert await sign_in(gateway.url, bystander.person.email, PASSWORD) == 303


async def test_an_admin_makes_a_key_for_a_member_without_a_password(
    gateway: RunningGateway, backend: Backend
) -> None:
    async with signed_in(gateway.url, backend, Role.ORG_ADMIN) as admin:
        async with backend.engine.begin() as conn:
            org = await accounts.get_org(conn, admin.person.org_id)
            user = await accounts.create_user(conn, f"keys-{admin.person.email}", org.name)
        page = f"/console/orgs/{org.id}/members/{user.id}"
        status, html = await admin.get(page)
        assert status == 200 and 'id="member-key-form"' in html

        async def theirs() -> list[str]:
            async with backend.engine.connect() as conn:
                query = select(api_keys.c.name).where(api_keys.c.user_id == user.id)
                return list((await conn.execute(query)).scalars())

        typed = {"name": "batch job", "models": "gpt-4o-mini", "expires": "", "scope": "all"}
        for wrong, says in (
            ({"expires": "someday"}, "YYYY-MM-DD"),
            ({"scope": "everything"}, "What it may do"),
            ({"allowed_ips": "not-an-address"}, "not-an-address"),
        ):
            status, _, html = await admin.post(f"{page}/keys", typed | wrong)
            assert status == 400, (wrong, html)
            assert 'class="error"' in html and says in html and 'value="batch job"' in html
            assert '<details id="member-key" open>' in html
        assert await theirs() == []

        status, _, html = await admin.post(f"{page}/keys", typed)
        assert status == 201 and 'id="key-secret">sk-sonar-' in html
        assert f'href="{page}"' in html and "/console/keys/" not in html
        assert await theirs() == ["batch job"]
        async with backend.engine.connect() as conn:
            [key] = await accounts.list_keys(conn, user.email)
        [entry] = await audited(backend, "key.create", key.id)
        assert entry.actor == admin.person.email and key.models == ("gpt-4o-mini",)
        secret = html.split('id="key-secret">')[1].split("<")[0]
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                gateway.url + "/v1/models", headers={"Authorization": f"Bearer {secret}"}
            ) as answer,
        ):
            assert answer.status == 200
