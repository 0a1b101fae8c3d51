"""Deletion requests over plain HTTP: an operator rejects one with a reason (none is
refused and changes nothing), which leaves the account as the API's rejection leaves it
and tells the person; an approval needs the password once the session proved it long
ago (a missing or wrong one changes nothing); organization admins are refused unless the
settings let them decide, and then see and decide only their own organization's."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.privacy.requests import DeletionRequest, get_request
from aisonar.store.roles import Role
from aisonar.store.tables import api_keys, audit_log, deletion_requests, users
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.console.forms import fetch, http_session, post, prove_long_ago
from tests.console.people import (
    PASSWORD,
    ConsolePerson,
    console_person,
    csrf_token_in,
    sign_in_over_http,
)
from tests.mailbox import Mailbox, bodies
from tests.support import Backend

DELETIONS = "/console/operator/deletions"
REJECTED_SUBJECT = "Your request to delete your account was rejected"


async def ask_for_deletion(url: str, person: ConsolePerson, reason: str = "leaving") -> str:
    """The person asks through `POST /api/me/deletion-request` with their password, signed
    in as a browser is; the request's id."""
    async with http_session() as http:
        signed = {"email": person.email, "password": PASSWORD}
        async with http.post(url + "/api/session", json=signed) as answer:
            assert answer.status == 200, await answer.text()
            csrf = (await answer.json())["csrf_token"]
        async with http.post(
            url + "/api/me/deletion-request",
            json={"password": PASSWORD, "reason": reason},
            headers={"x-csrf-token": csrf},
        ) as answer:
            assert answer.status == 202, await answer.text()
            return str((await answer.json())["id"])


async def request_now(backend: Backend, request_id: str) -> DeletionRequest:
    async with backend.engine.connect() as conn:
        return await get_request(conn, request_id)


async def member_of(backend: Backend, admin: ConsolePerson, name: str = "Leaving Member") -> Any:
    email = f"leaver-{secrets.token_hex(4)}@example.com"
    async with backend.engine.begin() as conn:
        org = await accounts.get_org(conn, admin.org_id)
        user = await accounts.create_user(conn, email, org.name, name=name, password=PASSWORD)
    return ConsolePerson(user.id, admin.org_id, email)


async def test_a_rejection_needs_a_reason_and_leaves_the_account_as_the_api_does(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    person = await console_person(backend.engine, name="Rejected Person")
    async with backend.engine.begin() as conn:
        key, _ = await accounts.create_key(conn, person.email, name="laptop")
    request_id = await ask_for_deletion(gateway.url, person, reason="moving on")
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        status, html = await fetch(http, gateway.url + DELETIONS)
        assert status == 200 and f"{DELETIONS}/{request_id}" in html and person.email in html
        status, html = await fetch(http, f"{gateway.url}{DELETIONS}/{request_id}")
        assert status == 200 and "moving on" in html and 'id="reject-form"' in html
        token = csrf_token_in(html)
        reject = f"{gateway.url}{DELETIONS}/{request_id}/reject"

        status, _, page = await post(http, reject, token, {"reason": ""})
        assert status == 400 and 'class="error"' in page
        assert (await request_now(backend, request_id)).status == "requested"

        why = "an unpaid invoice is disputed"
        status, location, _ = await post(http, reject, token, {"reason": why})
        assert (status, location) == (303, f"{DELETIONS}/{request_id}")
        status, html = await fetch(http, f"{gateway.url}{DELETIONS}/{request_id}")
        assert why in html and 'data-status="rejected"' in html
        assert 'id="approve-form"' not in html
        # Decided once: a second decision is the API's conflict, and changes nothing.
        status, _, page = await post(http, reject.replace("reject", "approve"), token, {})
        assert status == 409
        status, html = await fetch(http, gateway.url + DELETIONS + "?status=rejected")
        assert f"{DELETIONS}/{request_id}" in html

    rejected = await request_now(backend, request_id)
    assert rejected.status == "rejected" and rejected.decision_reason == why
    assert rejected.decided_by == operator.email
    # As after the API's rejection: the account stays disabled, its key revoked, its
    # data untouched; the person is told why.
    async with backend.engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.id == person.user_id))).one()
        revoked = (
            await conn.execute(select(api_keys.c.revoked_at).where(api_keys.c.id == key.id))
        ).scalar_one()
        entries = await conn.execute(
            select(audit_log.c.action).where(audit_log.c.object_id == person.user_id)
        )
        actions = list(entries.scalars())
    assert row.email == person.email and row.disabled_at is not None and revoked is not None
    assert "user.deletion_rejected" in actions
    told = await mailbox.wait_for_subject(person.email, REJECTED_SUBJECT)
    assert why in bodies(told)[0]


async def test_an_approval_after_a_while_needs_the_password(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    person = await console_person(backend.engine, name="Approved Person")
    request_id = await ask_for_deletion(gateway.url, person)
    page_url = f"{gateway.url}{DELETIONS}/{request_id}"
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        status, html = await fetch(http, page_url)
        assert 'name="current_password"' not in html
        await prove_long_ago(backend, operator.user_id)
        status, html = await fetch(http, page_url)
        assert status == 200 and 'name="current_password"' in html
        token = csrf_token_in(html)
        for fields in ({"reason": "checked"}, {"reason": "checked", "current_password": "nope"}):
            status, _, page = await post(http, page_url + "/approve", token, fields)
            assert status in (400, 403), page
            assert 'class="error"' in page and 'value="checked"' in page
            assert (await request_now(backend, request_id)).status == "requested"
        status, location, _ = await post(
            http, page_url + "/approve", token, {"reason": "checked", "current_password": PASSWORD}
        )
        assert (status, location) == (303, f"{DELETIONS}/{request_id}")
        status, html = await fetch(http, page_url)
        assert 'data-status="completed"' in html and 'id="receipt-erased"' in html
    done = await request_now(backend, request_id)
    assert done.status == "completed" and done.decision_reason == "checked"
    async with backend.engine.connect() as conn:
        email = (
            await conn.execute(select(users.c.email).where(users.c.id == person.user_id))
        ).scalar_one()
    assert email != person.email and email.endswith(".invalid")


async def test_org_admins_decide_only_when_allowed_and_only_their_own(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    stranger = await console_person(backend.engine, role=Role.ORG_ADMIN)
    plain = await console_person(backend.engine)
    leaver = await member_of(backend, admin)
    elsewhere = await console_person(backend.engine, name="Elsewhere Person")
    own_id = await ask_for_deletion(gateway.url, leaver)
    other_id = await ask_for_deletion(gateway.url, elsewhere)

    # By default only operators decide: everyone else is refused, and changes nothing.
    for person in (admin, plain):
        async with http_session() as http:
            await sign_in_over_http(http, gateway.url, person.email)
            status, html = await fetch(http, gateway.url + "/console")
            token = csrf_token_in(html)
            assert DELETIONS not in html
            for path in (DELETIONS, f"{DELETIONS}/{own_id}"):
                status, _ = await fetch(http, gateway.url + path)
                assert status == 403, (person, path)
            status, _, _ = await post(http, f"{gateway.url}{DELETIONS}/{own_id}/approve", token, {})
            assert status == 403
    assert (await request_now(backend, own_id)).status == "requested"

    settings = backend.settings.model_copy(
        update={"deletion_approval": "org_admin", "deletion_erasure_delay_hours": 24.0}
    )
    async with running_gateway(settings) as allowing:
        async with http_session() as http:
            await sign_in_over_http(http, allowing.url, admin.email)
            status, html = await fetch(http, allowing.url + DELETIONS)
            assert status == 200 and f"{DELETIONS}/{own_id}" in html
            assert other_id not in html and elsewhere.email not in html
            # The audit page leads an admin who decides to the requests.
            status, html = await fetch(http, allowing.url + "/console/audit")
            assert f'href="{DELETIONS}"' in html
            token = csrf_token_in(html)
            # Another organization's request is not found, and cannot be decided.
            status, _ = await fetch(http, f"{allowing.url}{DELETIONS}/{other_id}")
            assert status == 404
            status, _, _ = await post(
                http, f"{allowing.url}{DELETIONS}/{other_id}/reject", token, {"reason": "no"}
            )
            assert status == 404
            status, _, _ = await post(
                http, f"{allowing.url}{DELETIONS}/{own_id}/approve", token, {}
            )
            assert status == 303
            status, html = await fetch(http, f"{allowing.url}{DELETIONS}/{own_id}")
            assert 'data-status="approved"' in html
        async with http_session() as http:
            # A plain member is still refused.
            await sign_in_over_http(http, allowing.url, plain.email)
            status, _ = await fetch(http, allowing.url + DELETIONS)
            assert status == 403
        async with http_session() as http:
            # Another organization's admin sees none of it.
            await sign_in_over_http(http, allowing.url, stranger.email)
            status, html = await fetch(http, allowing.url + DELETIONS)
            assert status == 200 and own_id not in html and other_id not in html
    assert (await request_now(backend, own_id)).status == "approved"
    assert (await request_now(backend, other_id)).status == "requested"
    async with backend.engine.connect() as conn:
        erase_after = (
            await conn.execute(
                select(deletion_requests.c.erase_after).where(deletion_requests.c.id == own_id)
            )
        ).scalar_one()
    assert erase_after is not None
