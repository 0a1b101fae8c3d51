"""An operator corrects a user's email address at once, through the API or the command
line: audited, the user's sessions end, both addresses are told. Nobody else may change
another person's address (an org admin redirecting a member's could take it over)."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner, Result

from aisonar.cli import main
from aisonar.testing.gateway_server import RunningGateway
from tests.api.email_changes import (
    CHANGED_SUBJECT,
    audit_entries,
    fresh_address,
    member_with_password,
)
from tests.api.people import Api, make_operator, make_org
from tests.api.test_sessions import Browser
from tests.mailbox import Mailbox, bodies
from tests.support import Backend, cli_environment


async def aisonar(backend: Backend, *args: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=cli_environment(backend), catch_exceptions=False
    )


async def test_an_org_admin_cannot_redirect_a_members_address_an_operator_can(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    admin, member = Api(gateway.url, org.admin.token), Api(gateway.url, org.member.token)
    path = f"/api/users/{org.member.user_id}"
    new = fresh_address()
    for caller in (admin, member):
        for body in ({"email": new}, {"name": "Mallory", "email": new}):
            refused = await caller.call("PATCH", path, body)
            assert refused.status == 403, body
            assert "POST /api/me/email" in refused.body["error"]["message"]
    before = (await admin.get(path)).body
    assert (before["email"], before["name"]) == (org.member.email, "Test")

    operator_person = await make_operator(backend.engine)
    operator = Api(gateway.url, operator_person.token)
    changed = await operator.call("PATCH", path, {"email": new.upper()})
    assert changed.status == 200 and changed.body["email"] == new
    assert (await member.get("/api/me")).body["email"] == new
    for address in (org.member.email, new):
        told = await mailbox.wait_for_subject(address, CHANGED_SUBJECT)
        assert f"changed from {org.member.email} to {new}" in bodies(told)[0]
    [entry] = await audit_entries(backend.engine, org.member.user_id, "user.email_change")
    assert entry.changes == {"email": [org.member.email, new], "sessions_ended": [None, 0]}
    assert (entry.actor, entry.org_id) == (operator_person.email, org.id)

    assert (await operator.call("PATCH", path, {"email": "not-an-email"})).status == 400
    taken = await operator.call("PATCH", path, {"email": org.admin.email})
    assert taken.status == 409 and taken.body["error"]["param"] == "email"
    # The same address again changes nothing, and records nothing.
    assert (await operator.call("PATCH", path, {"email": new})).status == 200
    assert len(await audit_entries(backend.engine, org.member.user_id, "user.email_change")) == 1
    assert (await member.get("/api/me")).body["email"] == new


async def test_an_operator_changes_an_address_from_the_command_line(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await member_with_password(backend.engine)
    browser = Browser(gateway)
    new = fresh_address()
    try:
        assert await browser.sign_in(person.email) == 200
        result = await aisonar(backend, "user", "update", person.email, "--email", new, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["email"] == new
        # Signed in under the old address: signed out now, and back in with the new one.
        assert (await browser.call("GET", "/api/me"))[0] == 401
        assert await browser.sign_in(new) == 200
    finally:
        await browser.close()
    for address in (person.email, new):
        told = await mailbox.wait_for_subject(address, CHANGED_SUBJECT)
        assert "1 other session was signed out." in bodies(told)[0]
    [entry] = await audit_entries(backend.engine, person.user_id, "user.email_change")
    assert entry.actor == "command line"
    assert entry.changes == {"email": [person.email, new], "sessions_ended": [None, 1]}

    other = await member_with_password(backend.engine)
    refused = await aisonar(backend, "user", "update", other.email, "--email", new)
    assert refused.exit_code == 1 and "another user's address" in refused.output
    refused = await aisonar(backend, "user", "update", other.email, "--email", "a@b")
    assert refused.exit_code == 1 and "not an email address" in refused.output
    assert await audit_entries(backend.engine, other.user_id, "user.email_change") == []
