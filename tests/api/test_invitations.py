"""Inviting a member by email: `POST /api/orgs/{id}/users` with `"invite": true` adds
them without a password and mails them, in their language (by default the inviter's), a
link to choose one; the token, kept only as a hash, works once, for 7 days, and only
while no newer invitation replaced it; `POST /api/password-reset/confirm` sets their
first password with it, and they sign in. Only their organization's admins (and
operators) invite them, and without email nothing is created."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from aisonar.accounts import services as accounts
from aisonar.accounts.passwords import hash_password
from aisonar.clock import utcnow
from aisonar.store.tables import password_resets, users
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.deletions import FromAddress
from tests.api.email_changes import audit_entries
from tests.api.people import Api, Org, make_operator, make_org
from tests.api.test_password_reset import SUBJECT as RESET_SUBJECT
from tests.api.test_password_reset import loopback, raw_request, stored
from tests.mailbox import Mailbox, bodies
from tests.support import Backend
from tests.test_no_content_stored import database_text

TOKEN = re.compile(r"sonar-invite-[A-Za-z0-9_-]{43}")
FIRST_PASSWORD = "Amber-Glacier-Orchard-73"
OTHER_PASSWORD = "Velvet-Canyon-Beacon-19"


def fresh_address() -> str:
    return f"invited-{secrets.token_hex(5)}@example.com"


def subject_for(org: Org) -> str:
    return f"You are invited to {org.name} on AI Sonar"


async def invite(gateway: RunningGateway, org: Org, email: str, **fields: Any) -> Any:
    """`POST /api/orgs/{id}/users` with `invite`, as the organization's admin."""
    body = {"email": email, "name": "Nova Invitee", "invite": True, **fields}
    return await Api(gateway.url, org.admin.token).post(f"/api/orgs/{org.id}/users", body)


async def token_in(mailbox: Mailbox, address: str, count: int = 1) -> str:
    """The token of the `count`-th invitation mailed to the address (sent before the
    request answered)."""
    messages = await mailbox.wait_for(address, count)
    text, html = bodies(messages[count - 1])
    [token] = set(TOKEN.findall(text))
    assert token in html
    return str(token)


async def confirm(client: FromAddress, token: str, password: str) -> tuple[int, Any]:
    body = {"token": token, "new_password": password}
    return await client.call("POST", "/api/password-reset/confirm", body)


async def password_hash_of(backend: Backend, email: str) -> str | None:
    async with backend.engine.connect() as conn:
        found = await conn.execute(select(users.c.password_hash).where(users.c.email == email))
        value: str | None = found.scalar_one_or_none()
        return value


async def test_an_invited_member_chooses_a_password_once_and_signs_in(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    email = fresh_address()
    answer = await invite(gateway, org, email, role="org_admin")
    assert answer.status == 201, answer.body
    assert answer.body["password_set"] is False and answer.body["role"] == "org_admin"
    user_id = answer.body["id"]

    [message] = await mailbox.wait_for(email)
    assert message["Subject"] == subject_for(org)
    text, html = bodies(message)
    assert f"Test invited you to join {org.name}" in text and org.name in html
    assert f"Test invited you to join {org.name} on AI Sonar, as organization admin." in text
    assert "/console/reset-password" in text and "POST /api/password-reset/confirm" in text
    token = await token_in(mailbox, email)
    [row] = await stored(backend, user_id)
    assert row.purpose == "invitation" and row.used_at is None
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert timedelta(days=7) - timedelta(minutes=1) < row.expires_at - row.created_at
    assert row.expires_at - row.created_at <= timedelta(days=7)
    assert token.encode() not in await database_text(backend)
    [audited] = await audit_entries(backend.engine, user_id, "user.invited")
    assert (audited.actor, audited.actor_user_id) == (org.admin.email, org.admin.user_id)
    assert audited.org_id == org.id and token not in str(tuple(audited))

    # A reset asked for the invited address still mails nothing: it has no password.
    assert (await raw_request(gateway.url, email, loopback()))[0] == 202
    assert [row.purpose for row in await stored(backend, user_id)] == ["invitation"]
    assert [m for m in mailbox.messages_to(email) if m["Subject"] == RESET_SUBJECT] == []

    client = FromAddress(gateway.url, loopback())
    try:
        assert await client.sign_in(email, FIRST_PASSWORD) == 401
        status, refused = await confirm(client, token, "password1")
        assert status == 400 and refused["error"]["param"] == "new_password"
        assert await password_hash_of(backend, email) is None

        status, done = await confirm(client, token, FIRST_PASSWORD)
        assert status == 200 and done == {"sessions_ended": 0}
        status, again = await confirm(client, token, FIRST_PASSWORD + "!")
        assert status == 400 and "already used" in again["error"]["message"]
        assert await client.sign_in(email, FIRST_PASSWORD) == 200
        status, me = await client.call("GET", "/api/me")
        assert status == 200 and me["email"] == email and me["password_set"] is True
    finally:
        await client.close()

    [accepted] = await audit_entries(backend.engine, user_id, "user.invitation_accepted")
    assert accepted.actor == email and accepted.changes == {"password_set": [False, True]}
    assert FIRST_PASSWORD not in str(tuple(accepted))
    assert await audit_entries(backend.engine, user_id, "user.password_reset") == []
    # Now that they have a password, there is nothing to invite them to.
    resent = await Api(gateway.url, org.admin.token).post(f"/api/users/{user_id}/invite", None)
    assert resent.status == 400 and "already has a password" in resent.body["error"]["message"]
    assert len(mailbox.messages_to(email)) == 1


async def test_a_new_invitation_replaces_the_old_one_and_expired_ones_fail(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    email = fresh_address()
    user_id = (await invite(gateway, org, email)).body["id"]
    first = await token_in(mailbox, email, 1)

    resent = await Api(gateway.url, org.admin.token).post(f"/api/users/{user_id}/invite", None)
    assert resent.status == 202
    assert (resent.body["user_id"], resent.body["email"]) == (user_id, email)
    second = await token_in(mailbox, email, 2)
    assert second != first
    [row] = await stored(backend, user_id)
    assert row.token_hash == hashlib.sha256(second.encode()).hexdigest()
    assert len(await audit_entries(backend.engine, user_id, "user.invited")) == 2

    client = FromAddress(gateway.url, loopback())
    try:
        for token, says in (
            (first, "replaced by a newer invitation"),
            ("sonar-reset-x", "unknown"),
        ):
            status, refused = await confirm(client, token, FIRST_PASSWORD)
            assert status == 400 and says in refused["error"]["message"]
            assert refused["error"]["param"] == "token"
        async with backend.engine.begin() as conn:
            await conn.execute(
                update(password_resets)
                .where(password_resets.c.user_id == user_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        status, expired = await confirm(client, second, FIRST_PASSWORD)
        assert status == 400 and "expired" in expired["error"]["message"]
        assert await client.sign_in(email, FIRST_PASSWORD) == 401
    finally:
        await client.close()
    assert await password_hash_of(backend, email) is None
    assert await audit_entries(backend.engine, user_id, "user.invitation_accepted") == []

    # A disabled member is enabled before being invited again.
    async with backend.engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == user_id).values(disabled_at=utcnow()))
    refused = await Api(gateway.url, org.admin.token).post(f"/api/users/{user_id}/invite", None)
    assert refused.status == 400 and "disabled" in refused.body["error"]["message"]
    assert len(mailbox.messages_to(email)) == 2


async def test_the_mail_speaks_the_invitees_language_by_default_the_inviters(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(users).where(users.c.id == org.admin.user_id).values(language="zh-Hans")
        )
    chinese, english = fresh_address(), fresh_address()
    assert (await invite(gateway, org, chinese)).body["language"] == "zh-Hans"
    assert (await invite(gateway, org, english, language="en")).body["language"] == "en"
    [to_chinese] = await mailbox.wait_for(chinese)
    assert to_chinese["Subject"] == f"您受邀加入 AI Sonar 上的 {org.name}"
    assert f"Test 邀请您以用户身份加入 AI Sonar 上的 {org.name}。" in bodies(to_chinese)[0]
    [to_english] = await mailbox.wait_for(english)
    assert to_english["Subject"] == subject_for(org)
    # Without `invite`, a member is added in English unless told otherwise, and not mailed.
    plain = fresh_address()
    added = await Api(gateway.url, org.admin.token).post(
        f"/api/orgs/{org.id}/users", {"email": plain}
    )
    assert added.status == 201 and added.body["language"] == "en"
    assert await stored(backend, added.body["id"]) == []


async def test_the_mail_links_to_the_console_under_the_public_url(
    backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    email = fresh_address()
    settings = backend.settings.model_copy(update={"public_url": "https://sonar.example.com"})
    async with running_gateway(settings) as gateway:
        assert (await invite(gateway, org, email)).status == 201
    token = await token_in(mailbox, email)
    text, html = bodies(mailbox.messages_to(email)[0])
    link = f"https://sonar.example.com/console/reset-password?token={token}"
    assert link in text and f'href="{link}"' in html
    assert "POST /api/password-reset/confirm" not in text


async def test_without_email_an_invitation_is_refused_and_nothing_is_created(
    backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    email = fresh_address()
    # (A member without a password, added without an invitation, to invite again.)
    async with backend.engine.begin() as conn:
        keys_only = await accounts.create_user(conn, fresh_address(), org.name)
    settings = backend.settings.model_copy(update={"smtp_url": ""})
    async with running_gateway(settings) as gateway:
        answer = await invite(gateway, org, email)
        assert answer.status == 403 and answer.body["error"]["code"] == "email_not_configured"
        assert "AISONAR_SMTP_URL" in answer.body["error"]["message"]
        again = await Api(gateway.url, org.admin.token).post(
            f"/api/users/{keys_only.id}/invite", None
        )
        assert again.status == 403 and again.body["error"]["code"] == "email_not_configured"
    async with backend.engine.connect() as conn:
        assert (await conn.execute(select(users).where(users.c.email == email))).first() is None
    assert await stored(backend, keys_only.id) == []
    assert mailbox.messages_to(email) == [] and mailbox.messages_to(keys_only.email) == []


async def test_an_invitation_with_a_password_is_refused_and_creates_nothing(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    email = fresh_address()
    answer = await invite(gateway, org, email, password=FIRST_PASSWORD)
    assert answer.status == 400 and answer.body["error"]["param"] == "invite"
    async with backend.engine.connect() as conn:
        assert (await conn.execute(select(users).where(users.c.email == email))).first() is None
    assert mailbox.messages_to(email) == []


async def test_only_the_organizations_admins_and_operators_invite_its_members(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    mine, theirs = await make_org(backend.engine), await make_org(backend.engine)
    email = fresh_address()
    invited_id = (await invite(gateway, theirs, email)).body["id"]
    await token_in(mailbox, email)
    [before] = await stored(backend, invited_id)
    intruder = fresh_address()
    body = {"email": intruder, "invite": True}
    # Another organization's admin and member learn nothing; a member of theirs may not.
    for caller, status in ((mine.admin, 404), (mine.member, 404), (theirs.member, 403)):
        api = Api(gateway.url, caller.token)
        added = await api.post(f"/api/orgs/{theirs.id}/users", body)
        assert added.status == status, (caller.email, added.body)
        assert theirs.name not in str(added.body) or status == 403
    for caller, status in ((mine.admin, 404), (mine.member, 404), (theirs.member, 404)):
        resent = await Api(gateway.url, caller.token).post(f"/api/users/{invited_id}/invite", None)
        assert resent.status == status, (caller.email, resent.body)
        assert email not in str(resent.body)
    # Nor may a member invite themselves (they have no password either).
    own = await Api(gateway.url, theirs.member.token).post(
        f"/api/users/{theirs.member.user_id}/invite", None
    )
    assert own.status == 403
    async with backend.engine.connect() as conn:
        assert (await conn.execute(select(users).where(users.c.email == intruder))).first() is None
    assert await stored(backend, invited_id) == [before]
    assert await stored(backend, theirs.member.user_id) == []
    assert len(mailbox.messages_to(email)) == 1 and mailbox.messages_to(intruder) == []

    # An operator may, for anyone's member.
    operator = await make_operator(backend.engine)
    resent = await Api(gateway.url, operator.token).post(f"/api/users/{invited_id}/invite", None)
    assert resent.status == 202
    await token_in(mailbox, email, 2)
    [entry, by_operator] = await audit_entries(backend.engine, invited_id, "user.invited")
    assert by_operator.actor_user_id == operator.user_id and entry.actor == theirs.admin.email


async def test_an_invitation_sets_only_a_first_password(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    """Should the member get a password some other way meanwhile (an operator sets it),
    the invitation no longer replaces it."""
    org = await make_org(backend.engine)
    email = fresh_address()
    user_id = (await invite(gateway, org, email)).body["id"]
    token = await token_in(mailbox, email)
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=hash_password(OTHER_PASSWORD))
        )
    client = FromAddress(gateway.url, loopback())
    try:
        status, refused = await confirm(client, token, FIRST_PASSWORD)
        assert status == 400 and "already has a password" in refused["error"]["message"]
        assert await client.sign_in(email, FIRST_PASSWORD) == 401
        assert await client.sign_in(email, OTHER_PASSWORD) == 200
    finally:
        await client.close()
    [row] = await stored(backend, user_id)
    assert row.used_at is None
