"""A person changes their own email address: with their password, a code goes to the new
address, and only that code, sent back by them, changes it; then their other sessions
end, and both addresses are told. Wrong passwords, bad or taken addresses, and expired,
used, replaced or someone else's codes change nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.store.tables import email_changes
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.email_changes import (
    CHANGED_SUBJECT,
    CODE,
    CODE_SUBJECT,
    TAKEN_SUBJECT,
    audit_entries,
    code_in,
    fresh_address,
    member_with_password,
    pending_change,
)
from tests.api.people import Api, make_org
from tests.api.test_sessions import PASSWORD, Browser
from tests.conftest import TEST_SECRET_KEY
from tests.mailbox import Mailbox, bodies
from tests.support import Backend

ACTIONS = ("user.email_change_request", "user.email_change")


async def test_the_new_address_confirms_the_change_then_both_addresses_are_told(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await member_with_password(backend.engine)
    here, there, stranger = Browser(gateway), Browser(gateway), Browser(gateway)
    new = fresh_address()
    try:
        assert await here.sign_in(person.email) == 200
        assert await there.sign_in(person.email) == 200
        status, asked, _ = await here.call(
            "POST", "/api/me/email", {"email": f" {new.upper()} ", "password": PASSWORD}
        )
        assert status == 202 and asked["email"] == new
        lasts = datetime.fromisoformat(asked["expires_at"]) - datetime.now(UTC)
        assert timedelta(hours=23, minutes=59) < lasts <= timedelta(hours=24)

        [message] = mailbox.messages_to(new)
        assert message["Subject"] == CODE_SUBJECT and message["To"] == f"Ada <{new}>"
        text, _ = bodies(message)
        assert new in text and "POST /api/me/email/verify" in text
        code = code_in(mailbox, new)
        # Nothing changed yet, and the code is kept only as its hash.
        assert (await here.call("GET", "/api/me"))[1]["email"] == person.email
        assert await stranger.sign_in(new) == 401
        pending = await pending_change(backend.engine, person.user_id)
        assert pending.email == new
        assert pending.token_hash == hashlib.sha256(code.encode()).hexdigest()
        assert code not in repr(tuple(pending))

        status, changed, _ = await here.call("POST", "/api/me/email/verify", {"token": code})
        assert status == 200 and changed["email"] == new
        assert (await here.call("GET", "/api/me"))[1]["email"] == new
        assert (await there.call("GET", "/api/me"))[0] == 401
        status, again, _ = await here.call("POST", "/api/me/email/verify", {"token": code})
        assert status == 400 and again["error"]["param"] == "token"
        assert await stranger.sign_in(person.email) == 401
        assert await stranger.sign_in(new) == 200
    finally:
        for browser in (here, there, stranger):
            await browser.close()

    for address in (person.email, new):
        told = await mailbox.wait_for_subject(address, CHANGED_SUBJECT)
        assert told["To"] == f"Ada <{address}>"
        text, html = bodies(told)
        assert f"changed from {person.email} to {new}" in text
        assert "1 other session was signed out." in text and new in html
        assert "Security notices are always sent" in text
    requested, confirmed = await audit_entries(backend.engine, person.user_id, *ACTIONS)
    assert requested.changes == {"requested_email": [None, new]}
    assert confirmed.changes == {"email": [person.email, new], "sessions_ended": [None, 1]}
    assert (confirmed.actor_user_id, confirmed.org_id) == (person.user_id, person.org_id)
    assert await pending_change(backend.engine, person.user_id) is None

    api = Api(gateway.url, person.token)
    [notice] = [n for n in (await api.get("/api/me/notices")).body if n["kind"] == "email_changed"]
    assert notice["security"] is True
    assert notice["data"] == {"previous_email": person.email, "email": new, "sessions_ended": 1}
    quiet = {"kinds": {"email_changed": {"email": False}}}
    assert (await api.call("PATCH", "/api/me/notification-settings", quiet)).status == 400


async def test_a_wrong_password_or_a_bad_address_changes_nothing(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await member_with_password(backend.engine)
    api = Api(gateway.url, person.token)
    new = fresh_address()
    for body, param in (
        ({"email": new, "password": "Wrong-Password-123"}, "password"),
        ({"email": new}, "password"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "two@at@example.com", "password": PASSWORD}, "email"),
        ({"email": "no-dot@example", "password": PASSWORD}, "email"),
        ({"email": "Eve <eve@example.com>", "password": PASSWORD}, "email"),
        ({"email": person.email.upper(), "password": PASSWORD}, "email"),
        ({"email": new, "password": PASSWORD, "role": "operator"}, "role"),
    ):
        refused = await api.post("/api/me/email", body)
        assert refused.status == 400, body
        assert refused.body["error"]["param"] == param, body
    assert mailbox.messages_to(new) == []
    assert await pending_change(backend.engine, person.user_id) is None
    assert (await api.get("/api/me")).body["email"] == person.email
    assert await audit_entries(backend.engine, person.user_id, *ACTIONS) == []

    # Without a password (access tokens only) there is nothing to confirm with.
    tokens_only = (await make_org(backend.engine)).member
    refused = await Api(gateway.url, tokens_only.token).post(
        "/api/me/email", {"email": new, "password": "anything-at-all"}
    )
    assert refused.status == 403 and refused.body["error"]["code"] == "password_required"
    assert "ask an operator" in refused.body["error"]["message"]
    assert await pending_change(backend.engine, tokens_only.user_id) is None


async def test_an_address_someone_has_is_answered_alike_and_never_taken(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await member_with_password(backend.engine)
    holder = await member_with_password(backend.engine)
    api = Api(gateway.url, person.token)
    free_address = fresh_address()
    free = await api.post("/api/me/email", {"email": free_address, "password": PASSWORD})
    taken = await api.post("/api/me/email", {"email": holder.email.upper(), "password": PASSWORD})
    assert (free.status, taken.status) == (202, 202)
    assert set(free.body) == set(taken.body) and taken.body["email"] == holder.email

    [told] = [m for m in mailbox.messages_to(holder.email) if m["Subject"] == TAKEN_SUBJECT]
    text, html = bodies(told)
    assert holder.email in text and "Nothing was changed" in text and holder.email in html
    assert not any(CODE.search("".join(bodies(m))) for m in mailbox.messages_to(holder.email))
    # The request replaced the earlier one, whose code now works no more; and no code was
    # ever sent that could take the holder's address.
    earlier = code_in(mailbox, free_address)
    refused = await api.post("/api/me/email/verify", {"token": earlier})
    assert refused.status == 400
    assert (await api.get("/api/me")).body["email"] == person.email
    assert (await Api(gateway.url, holder.token).get("/api/me")).body["email"] == holder.email
    entries = await audit_entries(backend.engine, person.user_id, *ACTIONS)
    assert [e.changes for e in entries] == [
        {"requested_email": [None, free_address]},
        {"requested_email": [None, holder.email]},
    ]


async def test_an_address_taken_before_the_code_comes_back_stays_with_its_holder(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await member_with_password(backend.engine)
    api = Api(gateway.url, person.token)
    new = fresh_address()
    assert (await api.post("/api/me/email", {"email": new, "password": PASSWORD})).status == 202
    code = code_in(mailbox, new)
    # Meanwhile an organization's admin gives the address to someone new.
    org = await make_org(backend.engine)
    holder = await Api(gateway.url, org.admin.token).post(
        f"/api/orgs/{org.id}/users", {"email": new}
    )
    assert holder.status == 201
    refused = await api.post("/api/me/email/verify", {"token": code})
    assert refused.status == 409 and refused.body["error"]["param"] == "email"
    assert (await api.get("/api/me")).body["email"] == person.email
    assert (await Api(gateway.url, org.admin.token).get(f"/api/users/{holder.body['id']}")).body[
        "email"
    ] == new
    assert await audit_entries(backend.engine, person.user_id, "user.email_change") == []


async def test_expired_replaced_and_other_peoples_codes_are_refused(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person, other = (
        await member_with_password(backend.engine),
        await member_with_password(backend.engine),
    )
    api, other_api = Api(gateway.url, person.token), Api(gateway.url, other.token)
    first, second, third = fresh_address(), fresh_address(), fresh_address()
    for address in (first, second):
        asked = await api.post("/api/me/email", {"email": address, "password": PASSWORD})
        assert asked.status == 202
    replaced, current = code_in(mailbox, first), code_in(mailbox, second)

    refused = await api.post("/api/me/email/verify", {"token": replaced})
    assert (
        refused.status == 400 and "replaced by a newer request" in refused.body["error"]["message"]
    )
    assert (await other_api.post("/api/me/email/verify", {"token": current})).status == 400
    assert (await api.post("/api/me/email/verify", {"token": "sonar-email-x"})).status == 400
    assert (await other_api.get("/api/me")).body["email"] == other.email

    async with backend.engine.begin() as conn:
        await conn.execute(
            update(email_changes)
            .where(email_changes.c.user_id == person.user_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await api.post("/api/me/email/verify", {"token": current})
    assert expired.status == 400 and "expired" in expired.body["error"]["message"]
    assert (await api.get("/api/me")).body["email"] == person.email
    assert await audit_entries(backend.engine, person.user_id, "user.email_change") == []

    # A new request after all that goes through, confirmed with an access token: then no
    # session of the person is kept.
    assert (await api.post("/api/me/email", {"email": third, "password": PASSWORD})).status == 202
    confirmed = await api.post("/api/me/email/verify", {"token": code_in(mailbox, third)})
    assert confirmed.status == 200 and confirmed.body["email"] == third


async def test_a_code_the_mail_server_refuses_is_an_error(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await member_with_password(backend.engine)
    new = fresh_address()
    mailbox.refused.add(new)
    refused = await Api(gateway.url, person.token).post(
        "/api/me/email", {"email": new, "password": PASSWORD}
    )
    assert refused.status == 503 and refused.body["error"]["code"] == "email_not_sent"
    assert mailbox.messages_to(new) == []


async def test_without_email_no_new_address_can_be_confirmed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=TEST_SECRET_KEY)
    settings.data_dir.mkdir()
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_to_head(engine)
        person = await member_with_password(engine)
        async with running_gateway(settings) as gateway:
            refused = await Api(gateway.url, person.token).post(
                "/api/me/email", {"email": fresh_address(), "password": PASSWORD}
            )
        assert refused.status == 403 and refused.body["error"]["code"] == "email_not_configured"
        assert "AISONAR_SMTP_URL" in refused.body["error"]["message"]
        assert await pending_change(engine, person.user_id) is None
    finally:
        await engine.dispose()


async def test_requests_are_limited_per_person(backend: Backend, mailbox: Mailbox) -> None:
    settings = backend.settings.model_copy(update={"email_changes_per_hour": 2})
    person = await member_with_password(backend.engine)
    other = await member_with_password(backend.engine)
    async with running_gateway(settings) as gateway:
        api = Api(gateway.url, person.token)
        for _ in range(2):
            wrong = {"email": fresh_address(), "password": "Wrong-Password-123"}
            assert (await api.post("/api/me/email", wrong)).status == 400
        right = {"email": fresh_address(), "password": PASSWORD}
        limited = await api.post("/api/me/email", right)
        assert limited.status == 429
        assert limited.body["error"]["code"] == "too_many_email_changes"
        assert mailbox.messages_to(right["email"]) == []
        theirs = {"email": fresh_address(), "password": PASSWORD}
        assert (await Api(gateway.url, other.token).post("/api/me/email", theirs)).status == 202
