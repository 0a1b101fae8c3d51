"""The personal data export end to end: a person with activity in every part downloads a
ZIP over real HTTP (and an operator writes one from the command line) holding all of it,
described in its README, with no secret and nothing of anyone else's; an organization's
admin exports a member without their support conversations; nobody else exports anyone,
and nothing refused is audited as exported; exports are limited per person asking."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.cli import main
from aisonar.clock import utcnow
from aisonar.exports.personal.parts import PARTS
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.deletions import FromAddress, make_leaver
from tests.api.people import Api, make_operator, make_org
from tests.privacy.exports import (
    ADDRESS,
    RECHARGE_NOTE,
    active_person,
    assert_described,
    download,
    exports_recorded,
    read_archive,
)
from tests.support import Backend, cli_environment

# What only an operator has: replies to others' support requests, published policies.
OPERATOR_FILES = {"support_replies.json", "policies_published.json"}
FILLED = {part.file for part in PARTS} - OPERATOR_FILES


async def test_a_person_downloads_everything_about_them_and_nothing_else(
    gateway: RunningGateway, backend: Backend, tmp_path: Path
) -> None:
    home, other = await make_org(backend.engine), await make_org(backend.engine)
    operator = await make_operator(backend.engine)
    active = await active_person(gateway, backend, home, operator)
    person = active.person
    credit = {"amount": "10"}
    assert (
        await Api(gateway.url, operator.token).post(f"/api/orgs/{other.id}/recharges", credit)
    ).status == 201
    for neighbour in (home.member, other.member):
        client = FromAddress(gateway.url, "127.0.0.1")
        try:
            assert await client.chat(neighbour.key_secret) == 200
        finally:
            await client.close()

    got = await download(gateway.url, person.token, "/api/me/export")
    assert got.status == 200 and got.headers["Content-Type"] == "application/zip"
    name = f"aisonar-export-{person.user_id}-{utcnow():%Y-%m-%d}.zip"
    assert got.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    archive = read_archive(got.body)
    assert_described(archive, confidential=True, filled=FILLED)

    usage = archive.table("usage_events.csv")
    assert {row["user_id"] for row in usage} == {person.user_id}
    assert {row["client_ip"] for row in usage} == {ADDRESS}
    assert {row["key_id"] for row in usage} == {active.key_id}
    ledger = archive.table("ledger_entries.csv")
    assert {row["kind"] for row in ledger} == {"redemption", "usage"}
    charged = {row["request_id"] for row in ledger if row["kind"] == "usage"}
    assert charged and charged <= {row["id"] for row in usage}
    profile = archive.document("profile.json")
    assert profile["email"] == person.email and profile["name"] == person.name + " Jr"
    assert profile["has_password"] is True and "password_hash" not in profile
    [support] = archive.document("support_requests.json")
    assert [m["author_role"] for m in support["messages"]] == ["user", "operator"]
    assert {session["ip"] for session in archive.document("sessions.json")} == {ADDRESS}
    audit = archive.table("audit_entries.csv")
    actions = {row["action"] for row in audit}
    assert {"session.sign_in_failed", "session.sign_in", "user.update", "key.create"} <= actions
    assert {"user.deletion_request", "user.deletion_rejected", "support.reply"} <= actions
    assert ADDRESS in {row["ip"] for row in audit}
    for row in audit:
        theirs = row["actor_user_id"] == person.user_id or row["actor"] == person.email
        assert theirs or row["ip"] == "", row
        assert row["object_id"] or row["object_kind"] == "session", row

    for secret in active.secrets:
        assert secret.encode() not in archive.text, secret
    others = (other.id, other.name, other.member.email, other.member.key_id, other.admin.email)
    neighbours = (home.member.email, home.member.key_id, RECHARGE_NOTE)
    for mark in (*others, *neighbours):
        assert mark.encode() not in archive.text, mark
    assert await exports_recorded(backend, person.user_id) == 1

    # The operator's own export holds what they wrote and published.
    own = read_archive((await download(gateway.url, operator.token, "/api/me/export")).body)
    assert_described(own, confidential=True, filled=OPERATOR_FILES)
    [reply] = own.document("support_replies.json")
    assert reply["request_id"] == active.support_id and reply["author_role"] == "operator"

    out = tmp_path / "export.zip"
    command = ["privacy", "export", person.email, "--out", str(out)]
    ran = await asyncio.to_thread(
        CliRunner().invoke, main, command, env=cli_environment(backend), catch_exceptions=False
    )
    assert ran.exit_code == 0, ran.output
    written = read_archive(out.read_bytes())
    assert sorted(written.files) == sorted(archive.files)
    assert written.table("usage_events.csv") == usage
    assert await exports_recorded(backend, person.user_id) == 2
    missing = tmp_path / "nobody.zip"
    nobody = ["privacy", "export", "nobody@example.org", "--out", str(missing)]
    refused = await asyncio.to_thread(
        CliRunner().invoke, main, nobody, env=cli_environment(backend)
    )
    assert refused.exit_code == 1 and "nobody@example.org" in refused.output
    assert not missing.exists()


async def test_admins_export_their_members_without_support_and_nobody_else_exports(
    gateway: RunningGateway, backend: Backend
) -> None:
    home, other = await make_org(backend.engine), await make_org(backend.engine)
    operator = await make_operator(backend.engine)
    person = await make_leaver(backend.engine, home.name)
    subject = "A private matter"
    opened = await Api(gateway.url, person.token).post(
        "/api/me/support", {"subject": subject, "body": "Only the operators may read this."}
    )
    assert opened.status == 201, opened
    async with backend.engine.begin() as conn:
        insider = await accounts.create_user(
            conn, f"operator-in-{home.name}@example.org", home.name, role=Role.OPERATOR
        )
        _, insider_token = await tokens.create_token(conn, insider.email)
    path = f"/api/users/{person.user_id}/export"

    for caller in (home.member, other.admin, other.member):
        refused = await download(gateway.url, caller.token, path)
        assert refused.status == 404, caller.email
    above = await download(gateway.url, home.admin.token, f"/api/users/{insider.id}/export")
    assert above.status == 403
    assert await exports_recorded(backend, person.user_id) == 0
    assert await exports_recorded(backend, insider.id) == 0
    # An operator may export the one in the organization.
    by_operator = await download(gateway.url, insider_token, f"/api/users/{insider.id}/export")
    assert by_operator.status == 200

    by_admin = await download(gateway.url, home.admin.token, path)
    assert by_admin.status == 200
    archive = read_archive(by_admin.body)
    assert_described(archive, confidential=False, filled={"profile.json", "api_keys.json"})
    assert "support_requests.json" not in archive.files
    assert b"Left out: this export was made by an admin" in archive.files["README.txt"]
    assert subject.encode() not in archive.text
    full = read_archive((await download(gateway.url, operator.token, path)).body)
    [support] = full.document("support_requests.json")
    assert support["subject"] == subject
    assert await exports_recorded(backend, person.user_id) == 2


async def test_exports_are_limited_per_person_asking(backend: Backend) -> None:
    home = await make_org(backend.engine)
    settings = backend.settings.model_copy(update={"exports_per_hour": 1})
    async with running_gateway(settings) as limited:
        first = await download(limited.url, home.member.token, "/api/me/export")
        again = await download(limited.url, home.member.token, "/api/me/export")
    assert first.status == 200
    assert again.status == 429 and int(again.headers["Retry-After"]) > 0
    assert b"too_many_exports" in again.body
    assert await exports_recorded(backend, home.member.user_id) == 1
