"""A forgotten password, reset by email: every address is answered alike; an account that
signs in with a password gets a token, kept only as a hash, that works once, within the
hour, and only while no newer request replaced it; using it sets a strong password, ends
every session, and is audited and told. Requests are limited per address and per client,
confirmations like sign-ins."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update

from aisonar.accounts import services as accounts
from aisonar.clock import utcnow
from aisonar.store.tables import password_resets, users
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.deletions import FromAddress
from tests.api.email_changes import audit_entries, member_with_password
from tests.api.people import Api, make_org
from tests.mailbox import Mailbox, bodies
from tests.support import Backend
from tests.test_no_content_stored import database_text

TOKEN = re.compile(r"sonar-reset-[A-Za-z0-9_-]{43}")
SUBJECT = "Reset your password"
CHANGED_SUBJECT = "Your password was changed"
NEW_PASSWORD = "Copper-Lantern-Harbor-58"


def loopback() -> str:
    """A client address of the test's own, so that per-client limits are its alone."""
    return f"127.{secrets.randbelow(250) + 1}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


async def raw_request(url: str, email: str, ip: str) -> tuple[int, str, bytes]:
    connector = aiohttp.TCPConnector(local_addr=(ip, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(url + "/api/password-reset", json={"email": email}) as response,
    ):
        return response.status, response.content_type, await response.read()


async def token_for(mailbox: Mailbox, address: str, count: int = 1) -> str:
    """The token of the `count`-th reset mailed to the address (sent after the answer)."""
    messages = await mailbox.wait_for(address, count)
    text, html = bodies(messages[count - 1])
    assert messages[count - 1]["Subject"] == SUBJECT
    [token] = set(TOKEN.findall(text))
    assert token in html
    return str(token)


async def stored(backend: Backend, user_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(password_resets).where(password_resets.c.user_id == user_id)
        return list(await conn.execute(query.order_by(password_resets.c.created_at)))


async def test_a_mailed_token_resets_the_password_once_and_ends_every_session(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await member_with_password(backend.engine)
    signed_in, stranger = FromAddress(gateway.url, loopback()), FromAddress(gateway.url, loopback())
    ip = loopback()
    try:
        assert await signed_in.sign_in(person.email) == 200
        status, _, _ = await raw_request(gateway.url, f" {person.email.upper()} ", ip)
        assert status == 202
        token = await token_for(mailbox, person.email)
        text, _ = bodies(mailbox.messages_to(person.email)[0])
        assert "/console/reset-password" in text and "POST /api/password-reset/confirm" in text
        [row] = await stored(backend, person.user_id)
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.requested_ip == ip and row.used_at is None
        assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1)
        assert token.encode() not in await database_text(backend)

        # A weak password changes nothing, and the token still works after it.
        weak = {"token": token, "new_password": "password1"}
        status, refused = await stranger.call("POST", "/api/password-reset/confirm", weak)
        assert status == 400 and refused["error"]["param"] == "new_password"
        assert (await stored(backend, person.user_id))[0].used_at is None
        assert (await signed_in.call("GET", "/api/me"))[0] == 200

        strong = {"token": token, "new_password": NEW_PASSWORD}
        status, done = await stranger.call("POST", "/api/password-reset/confirm", strong)
        assert status == 200 and done == {"sessions_ended": 1}
        assert (await signed_in.call("GET", "/api/me"))[0] == 401
        status, again = await stranger.call("POST", "/api/password-reset/confirm", strong)
        assert status == 400 and "already used" in again["error"]["message"]
        assert await stranger.sign_in(person.email) == 401
        assert await stranger.sign_in(person.email, NEW_PASSWORD) == 200
    finally:
        await signed_in.close()
        await stranger.close()
    # Nothing else is revoked: the access token still works.
    assert (await Api(gateway.url, person.token).get("/api/me")).status == 200
    assert (await stored(backend, person.user_id))[0].used_at is not None

    [entry] = await audit_entries(backend.engine, person.user_id, "user.password_reset")
    assert entry.changes == {"password_set": [True, True], "sessions_ended": [None, 1]}
    assert entry.actor == person.email
    assert token not in str(tuple(entry)) and NEW_PASSWORD not in str(tuple(entry))
    told = await mailbox.wait_for_subject(person.email, CHANGED_SUBJECT)
    told_text = bodies(told)[0]
    assert "It was reset with a link mailed to this address." in told_text
    assert "1 session was signed out." in told_text and "other session" not in told_text
    [asked] = await audit_entries(backend.engine, person.user_id, "user.password_reset_requested")
    assert asked.actor == person.email and asked.ip == ip


async def test_every_address_is_answered_byte_for_byte_alike(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    known = await member_with_password(backend.engine)
    disabled = await member_with_password(backend.engine)
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(users).where(users.c.id == disabled.user_id).values(disabled_at=utcnow())
        )
    # An account with access tokens only may not gain a password by email.
    tokens_only = (await make_org(backend.engine)).member
    unknown = f"nobody-{secrets.token_hex(5)}@example.com"
    ip = loopback()
    answers = [
        await raw_request(gateway.url, address, ip)
        for address in (known.email, unknown, disabled.email, tokens_only.email)
    ]
    assert answers[0][0] == 202 and answers[0][1] == "application/json"
    assert all(answer == answers[0] for answer in answers)
    await token_for(mailbox, known.email)
    await asyncio.sleep(0.3)
    for address in (unknown, disabled.email, tokens_only.email):
        # (They may get other notices, such as the creation of their key.)
        assert [m for m in mailbox.messages_to(address) if m["Subject"] == SUBJECT] == []
    for user_id in (disabled.user_id, tokens_only.user_id):
        assert await stored(backend, user_id) == []
    async with backend.engine.connect() as conn:
        assert (await accounts.get_user(conn, tokens_only.user_id)).email == tokens_only.email


async def test_a_newer_request_replaces_the_token_and_expired_or_unknown_ones_fail(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await member_with_password(backend.engine)
    ip, client = loopback(), FromAddress(gateway.url, loopback())
    try:
        for _ in range(2):
            assert (await raw_request(gateway.url, person.email, ip))[0] == 202
        first = await token_for(mailbox, person.email, 1)
        second = await token_for(mailbox, person.email, 2)
        assert len(await stored(backend, person.user_id)) == 1
        for token, says in (
            (first, "replaced by a newer request"),
            ("sonar-reset-" + "x" * 43, "unknown"),
        ):
            body = {"token": token, "new_password": NEW_PASSWORD}
            status, refused = await client.call("POST", "/api/password-reset/confirm", body)
            assert status == 400 and says in refused["error"]["message"]
            assert refused["error"]["param"] == "token"
        async with backend.engine.begin() as conn:
            await conn.execute(
                update(password_resets)
                .where(password_resets.c.user_id == person.user_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        body = {"token": second, "new_password": NEW_PASSWORD}
        status, expired = await client.call("POST", "/api/password-reset/confirm", body)
        assert status == 400 and "expired" in expired["error"]["message"]
        assert await client.sign_in(person.email) == 200
    finally:
        await client.close()
    assert await audit_entries(backend.engine, person.user_id, "user.password_reset") == []


async def test_the_mail_links_to_the_console_under_the_public_url(
    backend: Backend, mailbox: Mailbox
) -> None:
    settings = backend.settings.model_copy(update={"public_url": "https://sonar.example.com"})
    person = await member_with_password(backend.engine)
    async with running_gateway(settings) as gateway:
        assert (await raw_request(gateway.url, person.email, loopback()))[0] == 202
        token = await token_for(mailbox, person.email)
    text, html = bodies(mailbox.messages_to(person.email)[0])
    link = f"https://sonar.example.com/console/reset-password?token={token}"
    assert link in text and f'href="{link}"' in html
    assert "POST /api/password-reset/confirm" not in text


async def test_requests_are_limited_per_address_and_per_client(
    backend: Backend, mailbox: Mailbox
) -> None:
    settings = backend.settings.model_copy(
        update={"password_resets_per_hour": 2, "password_resets_per_ip_per_hour": 4}
    )
    person = await member_with_password(backend.engine)
    unknown = f"nobody-{secrets.token_hex(5)}@example.com"
    async with running_gateway(settings) as gateway:
        for address in (person.email, unknown):
            ip = loopback()
            assert [(await raw_request(gateway.url, address, ip))[0] for _ in range(3)] == [
                202,
                202,
                429,
            ]
        ip = loopback()
        fresh = [f"nobody-{secrets.token_hex(5)}@example.com" for _ in range(5)]
        statuses = [(await raw_request(gateway.url, address, ip))[0] for address in fresh]
        assert statuses == [202, 202, 202, 202, 429]
        _, _, limited = await raw_request(gateway.url, fresh[0], ip)
        assert b"too_many_password_resets" in limited
    assert len(await mailbox.wait_for(person.email, 2)) == 2
    await asyncio.sleep(0.3)
    assert len(mailbox.messages_to(person.email)) == 2


async def test_confirmations_are_limited_like_sign_ins(backend: Backend, mailbox: Mailbox) -> None:
    settings = backend.settings.model_copy(update={"signin_failures_per_ip": 2})
    person = await member_with_password(backend.engine)
    async with running_gateway(settings) as gateway:
        assert (await raw_request(gateway.url, person.email, loopback()))[0] == 202
        token = await token_for(mailbox, person.email)
        guessing, elsewhere = (
            FromAddress(gateway.url, loopback()),
            FromAddress(gateway.url, loopback()),
        )
        try:
            for _ in range(2):
                wrong = {"token": f"sonar-reset-{secrets.token_urlsafe(32)}", "new_password": "x"}
                assert (await guessing.call("POST", "/api/password-reset/confirm", wrong))[0] == 400
            right = {"token": token, "new_password": NEW_PASSWORD}
            status, limited = await guessing.call("POST", "/api/password-reset/confirm", right)
            assert status == 429 and limited["error"]["code"] == "too_many_password_resets"
            assert await elsewhere.sign_in(person.email) == 200
            assert (await elsewhere.call("POST", "/api/password-reset/confirm", right))[0] == 200
        finally:
            await guessing.close()
            await elsewhere.close()


async def test_without_email_no_reset_is_offered(backend: Backend, mailbox: Mailbox) -> None:
    person = await member_with_password(backend.engine)
    async with running_gateway(backend.settings.model_copy(update={"smtp_url": ""})) as gateway:
        status, _, body = await raw_request(gateway.url, person.email, loopback())
    assert status == 403 and b"email_not_configured" in body and b"AISONAR_SMTP_URL" in body
    assert await stored(backend, person.user_id) == []
