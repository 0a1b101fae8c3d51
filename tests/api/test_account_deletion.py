"""Account deletion: asking disables the account at once and revokes its keys; an
operator (or an org admin, when the settings say so) approves or rejects it with a
reason; an approval erases the person, down to the bytes of the database files, while
the ledger stays; the person is told at each step, last with a receipt."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import timedelta

from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from aisonar.accounts.membership import update_user
from aisonar.audit.models import Actor
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.cli import main
from aisonar.clock import utcnow
from aisonar.privacy.erasure_job import erase_due
from aisonar.privacy.policies import PolicyKind, publish_policy
from aisonar.privacy.requests import request_deletion
from aisonar.store.tables import (
    consents,
    deletion_requests,
    ledger_entries,
    policies,
    policy_acknowledgements,
    usage_events,
    users,
)
from aisonar.support import services as support
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.deletions import (
    COMPLETED_SUBJECT,
    RECEIVED_SUBJECT,
    REJECTED_SUBJECT,
    FromAddress,
    Leaver,
    eventually,
    make_leaver,
    older_transaction,
    request_of,
)
from tests.api.people import Api, make_operator, make_org
from tests.api.test_sessions import PASSWORD
from tests.mailbox import Mailbox, bodies
from tests.support import Backend, assert_ledger_invariant, cli_environment
from tests.test_no_content_stored import database_text

ADDRESS = "127.213.77.91"
# What the person and an operator wrote in a support request.
SUPPORT_QUESTION = "Quillfeather asks about the vermilion invoice"
SUPPORT_ANSWER = "The vermilion invoice was settled by the operators"
COMPANY = "Vermilion Quillfeather Widgets Ltd"
# What their requests were attributed to: their application's users, their sessions.
ATTRIBUTION = {
    "x-aisonar-user": "quillfeather-customer-31",
    "x-aisonar-session-id": "quillfeather-session-8",
    "x-aisonar-property-team": "quillfeather-team",
}


async def _activity(gateway: RunningGateway, backend: Backend, person: Leaver) -> FromAddress:
    """Money, usage, sign-ins (one failed), a rename and their company, a support request
    and its answer, a consent, a policy they published (as if an operator) and
    acknowledged, a password reset asked for: all from ADDRESS."""
    async with backend.engine.begin() as conn:
        entry = NewEntry(LedgerKind.RECHARGE, 5_000_000, "operator", "before leaving")
        await ledger.credit(conn, person.org_id, entry)
    browser = FromAddress(gateway.url, ADDRESS)
    assert await browser.sign_in(person.email, "Not-The-Password-1") == 401
    assert await browser.sign_in(person.email) == 200
    renamed = {"name": person.name + " Jr", "company": COMPANY}
    assert (await browser.call("PATCH", "/api/me", renamed))[0] == 200
    granted = await browser.call("PUT", "/api/me/consents/analytics", {"granted": True})
    assert granted[0] == 200
    async with backend.engine.begin() as conn:
        actor = Actor(person.email, person.user_id, ADDRESS)
        policy = await publish_policy(
            conn, PolicyKind.PRIVACY, f"Kept by {person.user_id}", material=False, actor=actor
        )
    acknowledged = await browser.call("POST", f"/api/me/policies/{policy.id}/acknowledge")
    assert acknowledged[0] == 200
    # A forgotten-password reset asked for from ADDRESS, which its row keeps.
    assert (await browser.call("POST", "/api/password-reset", {"email": person.email}))[0] == 202
    assert await browser.chat(person.key_secret, ATTRIBUTION) == 200
    status, opened = await browser.call(
        "POST", "/api/me/support", {"subject": "Invoice", "body": SUPPORT_QUESTION}
    )
    assert status == 201
    async with backend.engine.begin() as conn:
        await support.reply(conn, opened["id"], SUPPORT_ANSWER)

    async def recorded() -> bool:
        async with backend.engine.connect() as conn:
            found = await conn.execute(
                select(func.count()).where(
                    usage_events.c.user_id == person.user_id, usage_events.c.client_ip == ADDRESS
                )
            )
            return bool(found.scalar_one())

    await eventually(recorded)
    return browser


async def test_a_deleted_person_is_found_nowhere_in_the_database_files(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await make_leaver(backend.engine)
    browser = await _activity(gateway, backend, person)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    # The search below would find them.
    before = await database_text(backend)
    marks = (
        person.email,
        person.name,
        ADDRESS,
        SUPPORT_QUESTION,
        SUPPORT_ANSWER,
        COMPANY,
        *ATTRIBUTION.values(),
    )
    # Other tests' deletion requests, kept, give their reasons too.
    reason = f"moving on {secrets.token_hex(4)}"
    assert all(mark.encode() in before for mark in marks)
    try:
        status, asked = await browser.call(
            "POST", "/api/me/deletion-request", {"password": PASSWORD, "reason": reason}
        )
        assert status == 202 and asked["status"] == "requested"
        # Disabled at once: the session ended, the key stops within a second.
        assert (await browser.call("GET", "/api/me"))[0] == 401
        await asyncio.sleep(1.0)
        assert await browser.chat(person.key_secret) == 401
    finally:
        await browser.close()
    assert (await Api(gateway.url, person.token).get("/api/me")).status == 401
    received = await mailbox.wait_for_subject(person.email, RECEIVED_SUBJECT)
    assert asked["id"] in bodies(received)[0]

    approved = await operator.post(
        f"/api/deletion-requests/{asked['id']}/approve", {"reason": "verified"}
    )
    assert approved.status == 200 and approved.body["status"] == "completed"
    assert approved.body["storage_compacted_at"] is not None
    receipt = approved.body["receipt"]
    assert receipt["mailed"] is True and receipt["user_id"] == person.user_id
    assert receipt["erased"]["usage_event_addresses"] >= 1
    assert receipt["erased"]["usage_event_attributions"] == 1
    assert receipt["erased"]["sessions"] >= 1 and receipt["erased"]["audit_entries"] >= 4
    assert receipt["erased"]["support_requests"] == 1
    assert receipt["erased"]["support_messages"] == 2
    assert receipt["erased"]["consents"] == 1
    assert receipt["erased"]["policy_acknowledgements"] == 1
    assert receipt["erased"]["password_resets"] == 1
    assert any(kept["what"] == "ledger entries" for kept in receipt["kept"])
    done = await mailbox.wait_for_subject(person.email, COMPLETED_SUBJECT)
    text, html = bodies(done)
    assert "IP addresses in usage events: 1" in text and person.user_id in html

    stored = await database_text(backend)
    for secret in (*marks, reason):
        assert secret.encode() not in stored, secret
    async with backend.engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.id == person.user_id))).one()
        entries = await conn.execute(
            select(func.count()).where(ledger_entries.c.org_id == person.org_id)
        )
        assert entries.scalar_one() >= 2
    assert row.email.endswith("@deleted.invalid") and row.name == "" and row.password_hash is None
    assert row.disabled_at is not None and row.company is None
    async with backend.engine.connect() as conn:
        for table in (consents, policy_acknowledgements):
            left = await conn.execute(select(table).where(table.c.user_id == person.user_id))
            assert list(left) == [], table.name
        publishers = await conn.execute(
            select(policies.c.published_by).where(policies.c.body == f"Kept by {person.user_id}")
        )
        assert list(publishers.scalars()) == [row.email]
    await assert_ledger_invariant(backend.engine, person.org_id)
    again = await operator.post(f"/api/deletion-requests/{asked['id']}/approve", {})
    assert again.status == 409


async def test_the_files_are_compacted_once_older_transactions_end(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await make_leaver(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    asked = await Api(gateway.url, person.token).post(
        "/api/me/deletion-request", {"password": PASSWORD}
    )
    assert asked.status == 202
    async with older_transaction(backend.engine):
        approved = await operator.post(f"/api/deletion-requests/{asked.body['id']}/approve", {})
        assert approved.status == 200 and approved.body["status"] == "completed"
        # Erased, but the older transaction may still read the old rows: the files keep
        # their bytes, and the request says it is not compacted yet.
        assert approved.body["storage_compacted_at"] is None
        assert person.email.encode() in await database_text(backend)
    # The erasure job's next rounds compact the files once no older transaction is left.
    # Other tests' transactions on the same database count as older for a minute after the
    # erasure (the clock skew allowed), so a round may find none of its few seconds free.
    compacted = await request_of(backend.engine, person.user_id)
    deadline = asyncio.get_running_loop().time() + 120
    while compacted.storage_compacted_at is None:
        assert asyncio.get_running_loop().time() < deadline, "never compacted"
        assert await erase_due(backend.engine, None) == 0
        compacted = await request_of(backend.engine, person.user_id)
    assert person.email.encode() not in await database_text(backend)


async def test_a_rejection_says_why_and_a_second_request_conflicts(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    person = await make_leaver(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    api = Api(gateway.url, person.token)
    wrong = await api.post("/api/me/deletion-request", {"password": "Wrong-Password-123"})
    assert wrong.status == 400 and wrong.body["error"]["param"] == "password"
    assert (await api.post("/api/me/deletion-request", {"password": PASSWORD})).status == 202
    async with backend.engine.begin() as conn:
        await update_user(conn, person.user_id, disabled=False)
    assert (await api.post("/api/me/deletion-request", {"password": PASSWORD})).status == 409
    async with backend.engine.begin() as conn:
        await update_user(conn, person.user_id, disabled=True)
    request = await request_of(backend.engine, person.user_id)

    path = f"/api/deletion-requests/{request.id}/reject"
    assert (await operator.post(path, {"reason": ""})).status == 400
    rejected = await operator.post(path, {"reason": "an unpaid invoice is disputed"})
    assert rejected.status == 200 and rejected.body["status"] == "rejected"
    told = await mailbox.wait_for_subject(person.email, REJECTED_SUBJECT)
    assert "an unpaid invoice is disputed" in bodies(told)[0]
    async with backend.engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.id == person.user_id))).one()
    assert row.email == person.email and row.disabled_at is not None
    listed = await operator.get("/api/deletion-requests?status=rejected")
    assert request.id in [found["id"] for found in listed.body]


async def test_org_admins_decide_only_when_allowed_and_only_their_own(
    gateway: RunningGateway, backend: Backend
) -> None:
    home, other = await make_org(backend.engine), await make_org(backend.engine)
    person = await make_leaver(backend.engine, home.name)
    api = Api(gateway.url, person.token)
    assert (await api.post("/api/me/deletion-request", {"password": PASSWORD})).status == 202
    request = await request_of(backend.engine, person.user_id)
    approve = f"/api/deletion-requests/{request.id}/approve"
    for caller in (home.admin, home.member, other.admin):
        refused = Api(gateway.url, caller.token)
        assert (await refused.post(approve, {})).status == 403
        assert (await refused.get("/api/deletion-requests")).status == 403

    settings = backend.settings.model_copy(
        update={"deletion_approval": "org_admin", "deletion_erasure_delay_hours": 24.0}
    )
    async with running_gateway(settings) as allowing:
        assert (await Api(allowing.url, home.member.token).post(approve, {})).status == 403
        assert (await Api(allowing.url, other.admin.token).post(approve, {})).status == 404
        theirs = await Api(allowing.url, other.admin.token).get("/api/deletion-requests")
        assert request.id not in [found["id"] for found in theirs.body]
        admin = Api(allowing.url, home.admin.token)
        assert [r["id"] for r in (await admin.get("/api/deletion-requests")).body] == [request.id]
        approved = await admin.post(approve, {})
    assert approved.status == 200 and approved.body["status"] == "approved"
    # Due a day later: the job leaves it until then.
    assert await erase_due(backend.engine, None) == 0
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(deletion_requests)
            .where(deletion_requests.c.id == request.id)
            .values(erase_after=utcnow() - timedelta(seconds=1))
        )
    assert await erase_due(backend.engine, None) == 1
    completed = await request_of(backend.engine, person.user_id)
    assert completed.status == "completed" and completed.receipt is not None
    assert completed.receipt["mailed"] is False


async def test_the_command_line_lists_approves_and_rejects(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    """(The gateway's notifier mails the rejection.)"""
    env = {**cli_environment(backend), "AISONAR_SMTP_URL": backend.settings.smtp_url}

    async def aisonar(*args: str, ok: bool = True) -> Result:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, list(args), env=env, catch_exceptions=False
        )
        assert (result.exit_code == 0) is ok, result.output
        return result

    leaving, staying = await make_leaver(backend.engine), await make_leaver(backend.engine)
    async with backend.engine.begin() as conn:
        for person in (leaving, staying):
            await request_deletion(conn, person.user_id, PASSWORD, None)
    first = await request_of(backend.engine, leaving.user_id)
    second = await request_of(backend.engine, staying.user_id)
    listed = json.loads(
        (await aisonar("privacy", "requests", "--status", "requested", "--json")).output
    )
    assert {first.id, second.id} <= {found["id"] for found in listed}
    assert first.id in (await aisonar("privacy", "requests")).output

    await aisonar("privacy", "reject", second.id, ok=False)
    rejected = json.loads(
        (await aisonar("privacy", "reject", second.id, "--reason", "legal hold", "--json")).output
    )
    assert rejected["status"] == "rejected" and rejected["decided_by"] == "command line"
    approved = json.loads((await aisonar("privacy", "approve", first.id, "--json")).output)
    assert approved["status"] == "completed" and approved["receipt"]["mailed"] is True
    await mailbox.wait_for_subject(leaving.email, COMPLETED_SUBJECT)
    await mailbox.wait_for_subject(staying.email, REJECTED_SUBJECT)
    await aisonar("privacy", "approve", second.id, ok=False)
