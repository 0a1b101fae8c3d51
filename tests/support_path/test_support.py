"""The support path, end to end over HTTP: a person opens a request, operators answer it
through the API and the command line, the person hears of each answer by email and in
the inbox, nobody else reads it, writing is limited per hour, and a closed request takes
no more of the person's messages (an operator's answer opens it again)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from aisonar.cli import main
from aisonar.store.tables import audit_log, notice_deliveries, notices, support_messages
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.people import Api, make_operator, make_org
from tests.mailbox import Mailbox, bodies
from tests.support import Backend, cli_environment

SUBJECT = "Charged twice for one request"
QUESTION = "My ledger shows two charges\nfor the same request yesterday."
ANSWER = "We refunded the second charge;\nit was a retry on our side."
CLI_ANSWER = "The refund is in your ledger now."


def answered(subject: str = SUBJECT) -> str:
    return f"An answer to your support request: {subject}"


async def run_cli(backend: Backend, *args: str, ok: bool = True) -> Result:
    result = await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=cli_environment(backend), catch_exceptions=False
    )
    assert (result.exit_code == 0) is ok, result.output
    return result


async def message_count(backend: Backend, request_id: str) -> int:
    async with backend.engine.connect() as conn:
        counted = await conn.execute(
            select(func.count()).where(support_messages.c.request_id == request_id)
        )
        return int(counted.scalar_one())


async def test_a_person_and_the_operators_talk_it_through(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    person = Api(gateway.url, org.member.token)
    operator_person = await make_operator(backend.engine)
    operator = Api(gateway.url, operator_person.token)
    # An endpoint taking every kind: support answers must not reach it.
    hook = await Api(gateway.url, org.admin.token).post(
        f"/api/orgs/{org.id}/webhooks", {"url": "https://example.com/every-notice"}
    )
    assert hook.status == 201

    opened = await person.post("/api/me/support", {"subject": f"  {SUBJECT} ", "body": QUESTION})
    assert opened.status == 201, opened.body
    request_id = opened.body["id"]
    assert request_id.startswith("sup_") and opened.body["subject"] == SUBJECT
    assert opened.body["status"] == "open" and opened.body["user_id"] == org.member.user_id
    [first] = opened.body["messages"]
    assert first["author_role"] == "user" and first["body"] == QUESTION
    mine = await person.get("/api/me/support")
    assert [found["id"] for found in mine.body] == [request_id]
    waiting = await operator.get("/api/support?status=open")
    assert request_id in [found["id"] for found in waiting.body]
    assert request_id not in [
        f["id"] for f in (await operator.get("/api/support?status=closed")).body
    ]

    replied = await operator.post(f"/api/support/{request_id}/messages", {"body": ANSWER})
    assert replied.status == 201
    assert [(m["author_role"], m["author_user_id"]) for m in replied.body["messages"]] == [
        ("user", org.member.user_id),
        ("operator", operator_person.user_id),
    ]
    mail = await mailbox.wait_for_subject(org.member.email, answered(), "refunded the second")
    text, html = (part.replace("\r\n", "\n") for part in bodies(mail))
    assert ANSWER in text and request_id in text and "refunded the second charge;" in html
    inbox = await person.get("/api/me/notices")
    told = next(notice for notice in inbox.body if notice["kind"] == "support_reply")
    assert told["data"] == {"request_id": request_id, "subject": SUBJECT, "message": ANSWER}
    assert told["security"] is False

    by_cli = json.loads(
        (
            await run_cli(
                backend, "support", "reply", request_id, "--message", CLI_ANSWER, "--json"
            )
        ).output
    )
    assert by_cli["messages"][-1]["author_role"] == "operator"
    assert by_cli["messages"][-1]["author_user_id"] is None
    await mailbox.wait_for_subject(org.member.email, answered(), CLI_ANSWER)
    listed = json.loads(
        (await run_cli(backend, "support", "list", "--status", "open", "--json")).output
    )
    assert request_id in [found["id"] for found in listed]
    shown = (await run_cli(backend, "support", "show", request_id)).output
    assert all(said in shown for said in (SUBJECT, QUESTION, ANSWER, CLI_ANSWER))

    async with backend.engine.connect() as conn:
        entries = list(
            await conn.execute(select(audit_log).where(audit_log.c.object_id == request_id))
        )
        answers = select(notices.c.id).where(
            notices.c.kind == "support_reply", notices.c.user_id == org.member.user_id
        )
        channels = await conn.execute(
            select(notice_deliveries.c.channel).where(notice_deliveries.c.notice_id.in_(answers))
        )
        assert set(channels.scalars()) == {"email"}
    assert sorted(entry.action for entry in entries) == [
        "support.open",
        "support.reply",
        "support.reply",
    ]
    assert {entry.actor for entry in entries} == {
        org.member.email,
        operator_person.email,
        "command line",
    }
    recorded = json.dumps([entry.changes for entry in entries])
    assert not any(said in recorded for said in (SUBJECT, "charges", "refund"))

    follow_up = await person.post(f"/api/me/support/{request_id}/messages", {"body": "Thanks!"})
    assert follow_up.status == 201 and len(follow_up.body["messages"]) == 4
    closed = await person.post(f"/api/me/support/{request_id}/close", None)
    assert closed.status == 200 and closed.body["status"] == "closed" and closed.body["closed_at"]
    assert (await person.post(f"/api/me/support/{request_id}/close", None)).status == 409
    late = await person.post(f"/api/me/support/{request_id}/messages", {"body": "One more"})
    assert late.status == 409 and late.body["error"]["code"] == "support_request_closed"
    assert "open a new one" in late.body["error"]["message"]
    assert await message_count(backend, request_id) == 4

    # An operator's answer opens it again; the command line closes it.
    reopened = await operator.post(f"/api/support/{request_id}/messages", {"body": "Reopening."})
    assert reopened.body["status"] == "open" and reopened.body["closed_at"] is None
    closing = json.loads((await run_cli(backend, "support", "close", request_id, "--json")).output)
    assert closing["status"] == "closed"
    await run_cli(backend, "support", "close", request_id, ok=False)
    await run_cli(backend, "support", "show", "sup_unknown", ok=False)


async def test_nobody_but_the_person_and_the_operators_reaches_a_request(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    colleague = await make_org(backend.engine)
    opened = await Api(gateway.url, org.member.token).post(
        "/api/me/support", {"subject": "Private matter", "body": "Only for the operators."}
    )
    request_id = opened.body["id"]
    for caller in (org.admin, colleague.admin, colleague.member):
        api = Api(gateway.url, caller.token)
        assert (await api.get(f"/api/me/support/{request_id}")).status == 404
        written = await api.post(f"/api/me/support/{request_id}/messages", {"body": "Me too"})
        assert written.status == 404
        assert (await api.post(f"/api/me/support/{request_id}/close", None)).status == 404
        assert request_id not in json.dumps((await api.get("/api/me/support")).body)
    for caller in (org.member, org.admin):
        api = Api(gateway.url, caller.token)
        assert (await api.get("/api/support")).status == 403
        assert (await api.get(f"/api/support/{request_id}")).status == 403
        answer = await api.post(f"/api/support/{request_id}/messages", {"body": "An answer"})
        assert answer.status == 403
        assert (await api.post(f"/api/support/{request_id}/close", None)).status == 403
    assert await message_count(backend, request_id) == 1
    still = await Api(gateway.url, org.member.token).get(f"/api/me/support/{request_id}")
    assert still.body["status"] == "open"
    refused = await Api(gateway.url, org.admin.token).post(
        f"/api/orgs/{org.id}/webhooks",
        {"url": "https://example.com/support", "kinds": ["support_reply"]},
    )
    assert refused.status == 400 and refused.body["error"]["param"] == "kinds"


async def test_an_answer_follows_the_persons_notification_settings(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    person = Api(gateway.url, org.member.token)
    settings = {"kinds": {"support_reply": {"email": False}}}
    assert (await person.call("PATCH", "/api/me/notification-settings", settings)).status == 200
    opened = await person.post("/api/me/support", {"subject": "Quiet please", "body": "Inbox only"})
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    await operator.post(f"/api/support/{opened.body['id']}/messages", {"body": "Noted."})

    async def dispatched() -> Any:
        async with backend.engine.connect() as conn:
            return (
                await conn.execute(
                    select(notices.c.id, notices.c.dispatched_at).where(
                        notices.c.kind == "support_reply",
                        notices.c.user_id == org.member.user_id,
                    )
                )
            ).one()

    for _ in range(100):
        if (notice := await dispatched()).dispatched_at is not None:
            break
        await asyncio.sleep(0.05)
    async with backend.engine.connect() as conn:
        deliveries = await conn.execute(
            select(func.count()).where(notice_deliveries.c.notice_id == notice.id)
        )
        assert notice.dispatched_at is not None and deliveries.scalar_one() == 0
    inbox = await person.get("/api/me/notices")
    assert [n["data"]["message"] for n in inbox.body if n["kind"] == "support_reply"] == ["Noted."]


async def _post(url: str, token: str, body: dict[str, Any]) -> tuple[int, Any, str | None]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
        session.post(url, json=body) as response,
    ):
        return response.status, await response.json(), response.headers.get("retry-after")


async def test_bad_input_and_too_many_messages_are_refused_and_store_nothing(
    backend: Backend,
) -> None:
    org = await make_org(backend.engine)
    settings = backend.settings.model_copy(update={"support_messages_per_hour": 2})
    async with running_gateway(settings) as limited:
        person = Api(limited.url, org.member.token)
        for bad in (
            {"subject": "   ", "body": "Hello"},
            {"subject": "Two\nlines", "body": "Hello"},
            {"subject": "x" * 201, "body": "Hello"},
            {"subject": "Long", "body": "x" * 10_001},
            {"subject": "Control", "body": "bell \x07"},
            {"subject": "Extra", "body": "Hello", "priority": "urgent"},
        ):
            refused = await person.post("/api/me/support", bad)
            assert refused.status == 400, bad
        # None of the refusals counted: two messages still fit in the hour.
        opened = await person.post("/api/me/support", {"subject": "Limits", "body": "First"})
        assert opened.status == 201
        request_id = opened.body["id"]
        path = f"/api/me/support/{request_id}/messages"
        assert (await person.post(path, {"body": " \n "})).status == 400
        assert (await person.post(path, {"body": "Second"})).status == 201
        status, error, retry_after = await _post(
            limited.url + path, org.member.token, {"body": "3"}
        )
        assert status == 429 and error["error"]["code"] == "too_many_support_messages"
        assert retry_after is not None and int(retry_after) > 0
        status, _, _ = await _post(
            limited.url + "/api/me/support", org.member.token, {"subject": "More", "body": "4"}
        )
        assert status == 429
        mine = await person.get("/api/me/support")
    assert [found["id"] for found in mine.body] == [request_id]
    assert await message_count(backend, request_id) == 2
