"""Reviewing findings: an operator sees and reviews every one, an organization's admin
only their organization's (another's is unknown to them, in the API and the console), a
member none; a dismissal closes a finding and leaves the key, a confirmation revokes it
(the gateway refuses it next), each audited, and a finding is reviewed once. The same at
the command line."""

from __future__ import annotations

import asyncio
import json

import openai
from click.testing import CliRunner

from aisonar.abuse.findings import record_finding
from aisonar.abuse.models import Finding, FindingKind, Signal, SubjectKind
from aisonar.accounts import services as accounts
from aisonar.audit.services import list_entries
from aisonar.cli import main
from aisonar.clock import new_id, utcnow
from aisonar.notify.notices import KEY_REVOKED, list_notices
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway
from tests.abuse.traffic import chat_from
from tests.api.people import Api, Person, make_operator, make_org
from tests.console.forms import fetch, signed_in, submit
from tests.console.people import console_person
from tests.support import Backend, cli_environment


async def shared_key_finding(backend: Backend, person: Person) -> Finding:
    """A key sharing finding about the person's key, as detection records it."""
    async with backend.engine.begin() as conn:
        found = await record_finding(
            conn,
            Signal(
                FindingKind.KEY_SHARING,
                SubjectKind.KEY,
                person.key_id,
                {"addresses": 50, "networks": 50},
                window_start=utcnow(),
                org_id=person.org_id,
                user_id=person.user_id,
            ),
        )
    assert found is not None
    return found


async def test_admins_review_their_own_organizations_findings_only(
    gateway: RunningGateway, backend: Backend
) -> None:
    a, b = await make_org(backend.engine), await make_org(backend.engine)
    operator = await make_operator(backend.engine)
    mine, theirs = (
        await shared_key_finding(backend, a.member),
        await shared_key_finding(backend, b.member),
    )
    admin, member = Api(gateway.url, a.admin.token), Api(gateway.url, a.member.token)
    listed = await admin.get("/api/abuse/findings")
    assert listed.status == 200 and [f["id"] for f in listed.body] == [mine.id]
    assert (await admin.get(f"/api/abuse/findings?org_id={b.id}")).status == 404
    assert (await admin.get(f"/api/abuse/findings/{theirs.id}")).status == 404
    assert (await admin.post(f"/api/abuse/findings/{theirs.id}/confirm", None)).status == 404
    assert (await member.get("/api/abuse/findings")).status == 403
    assert (await member.post(f"/api/abuse/findings/{mine.id}/dismiss", None)).status == 403
    everyone = await Api(gateway.url, operator.token).get("/api/abuse/findings?status=open")
    assert {mine.id, theirs.id} <= {f["id"] for f in everyone.body}

    dismissed = await admin.post(f"/api/abuse/findings/{mine.id}/dismiss", None)
    assert dismissed.status == 200 and dismissed.body["status"] == "dismissed"
    assert dismissed.body["reviewed_by"] == a.admin.email
    again = await admin.post(f"/api/abuse/findings/{mine.id}/confirm", None)
    assert again.status == 409 and "already reviewed" in json.dumps(again.body)
    async with backend.engine.connect() as conn:
        # A dismissed finding leaves the key as it was.
        assert (await accounts.get_key(conn, a.member.key_id)).revoked_at is None
        [entry] = await list_entries(conn, org_id=a.id, action="abuse.dismiss")
    assert entry.object_id == mine.id and entry.changes == {"status": ["open", "dismissed"]}


async def test_confirming_a_finding_revokes_the_key(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    operator = await make_operator(backend.engine)
    finding = await shared_key_finding(backend, org.member)
    confirmed = await Api(gateway.url, operator.token).post(
        f"/api/abuse/findings/{finding.id}/confirm", None
    )
    assert confirmed.status == 200 and confirmed.body["status"] == "confirmed"
    async with backend.engine.connect() as conn:
        actions = [e.action for e in await list_entries(conn, org_id=org.id)]
        told = [n.kind for n in await list_notices(conn, org.id)]
    assert actions[:2] == ["key.revoke", "abuse.confirm"] and KEY_REVOKED in told
    for _ in range(100):
        try:
            await chat_from(gateway, org.member.key_secret, "192.0.2.11")
        except openai.AuthenticationError as refused:
            assert "revoked" in str(refused)
            return
        except openai.APIStatusError as other:
            # Its organization holds no credits: refused after the key is accepted.
            assert other.status_code == 402
        await asyncio.sleep(0.05)
    raise AssertionError("the confirmed finding's key still works")


async def test_the_console_lists_and_reviews_findings_within_the_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    stranger = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        key, _ = await accounts.create_key(conn, admin.email, name="shared")
    mine = await shared_key_finding(
        backend,
        Person(admin.user_id, admin.email, admin.org_id, "", "", key.id, ""),
    )
    theirs = await shared_key_finding(backend, stranger.member)
    async with await signed_in(gateway.url, admin.email) as http:
        status, page = await fetch(http, gateway.url + "/console/abuse")
        assert status == 200 and f"finding-{mine.id}" in page and theirs.id not in page
        status, target, _ = await submit(
            http, gateway.url, "/console/abuse", f"/console/abuse/{theirs.id}/dismiss", {}
        )
        assert status == 404
        status, target, _ = await submit(
            http, gateway.url, "/console/abuse", f"/console/abuse/{mine.id}/confirm", {}
        )
        assert (status, target) == (303, "/console/abuse")
        _, page = await fetch(http, gateway.url + "/console/abuse?status=confirmed")
        assert f"finding-{mine.id}" in page


async def test_the_command_line_lists_dismisses_and_confirms(backend: Backend) -> None:
    org = await make_org(backend.engine)
    first = await shared_key_finding(backend, org.member)

    async def run(*args: str) -> str:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, ["abuse", "findings", *args], env=cli_environment(backend)
        )
        assert result.exit_code == 0, result.output
        return result.stdout

    listed = json.loads(await run("list", "--org-id", org.id, "--json"))
    assert [(f["id"], f["evidence"]["addresses"]) for f in listed] == [(first.id, 50)]
    assert json.loads(await run("dismiss", first.id, "--json"))["status"] == "dismissed"
    second = await shared_key_finding(backend, org.member)
    assert json.loads(await run("confirm", second.id, "--json"))["status"] == "confirmed"
    async with backend.engine.connect() as conn:
        entries = await list_entries(conn, org_id=org.id, actor="command line")
    assert [e.action for e in entries] == ["key.revoke", "abuse.confirm", "abuse.dismiss"]
    missing = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["abuse", "findings", "confirm", new_id("abf")],
        env=cli_environment(backend),
    )
    assert missing.exit_code == 1 and "no finding" in missing.output
