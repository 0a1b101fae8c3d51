"""The console's support pages: a person opens a request, writes in it and closes it; an
operator finds it in the inbox (by state), answers it (reopening a closed one; the person
is told) and closes it. Another person, even an admin of the same organization, finds
nothing of it; the inbox refuses everyone but operators; bad input and forged forms store
nothing; what people write is shown as text in both views, in a browser too."""

from __future__ import annotations

from typing import Any

import aiohttp
from playwright.async_api import Browser
from sqlalchemy import func, select

from aisonar.accounts import services as accounts
from aisonar.notify.notices import SUPPORT_REPLY
from aisonar.store.roles import Role
from aisonar.store.tables import notices, support_messages, support_requests
from aisonar.support.services import get_thread
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import fetch, signed_in
from tests.console.people import (
    MARKUP,
    PASSWORD,
    ConsolePerson,
    browsing_as,
    console_person,
    csrf_token_in,
    screenshot,
)
from tests.support import Backend

SUPPORT = "/console/support"
INBOX = "/console/operator/support"


async def submit(
    http: aiohttp.ClientSession,
    url: str,
    action: str,
    fields: dict[str, str],
    *,
    token_from: str | None = SUPPORT,
) -> tuple[int, str, str]:
    """The form posted with the CSRF token of the page `token_from` (none when None):
    status, redirect target, body."""
    form = dict(fields)
    if token_from is not None:
        _, html = await fetch(http, url + token_from)
        form["csrf_token"] = csrf_token_in(html)
    async with http.post(url + action, data=form, allow_redirects=False) as answer:
        return answer.status, answer.headers.get("location", ""), await answer.text()


async def requests_of(backend: Backend, user_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(support_requests).where(support_requests.c.user_id == user_id)
        return list(await conn.execute(query))


async def messages_in(backend: Backend, request_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        thread = await get_thread(conn, request_id)
    return list(thread.messages)


async def replies_told(backend: Backend, user_id: str) -> int:
    async with backend.engine.connect() as conn:
        query = select(func.count()).where(
            notices.c.user_id == user_id, notices.c.kind == SUPPORT_REPLY
        )
        return int((await conn.execute(query)).scalar_one())


async def test_a_request_is_opened_answered_and_closed_by_its_people_only(
    gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    operator = await console_person(backend.engine, name="Olive Operator", role=Role.OPERATOR)
    stranger = await console_person(backend.engine, name="Sam Stranger")
    # An admin of the person's own organization reaches none of it either.
    admin_email = f"admin-{person.email}"
    async with backend.engine.begin() as conn:
        # console_person names the organization after the address.
        org_name = person.email.split("@")[0]
        await accounts.create_user(
            conn, admin_email, org_name, name="Org Admin", role=Role.ORG_ADMIN, password=PASSWORD
        )
    http = await signed_in(gateway.url, person.email)
    staff = await signed_in(gateway.url, operator.email)
    others = [
        await signed_in(gateway.url, stranger.email),
        await signed_in(gateway.url, admin_email),
    ]
    try:
        status, html = await fetch(http, gateway.url + SUPPORT)
        assert status == 200 and 'id="support-form"' in html
        # Refused: no subject, a subject on two lines, no token; nothing is stored.
        for fields in (
            {"subject": "", "body": "kept as typed"},
            {"subject": "two\nlines", "body": "kept as typed"},
        ):
            status, _, html = await submit(http, gateway.url, SUPPORT, fields)
            assert status == 400 and 'role="alert"' in html and "kept as typed</textarea>" in html
        forged = {"subject": "Forged", "body": "Forged"}
        assert (await submit(http, gateway.url, SUPPORT, forged, token_from=None))[0] == 403
        assert await requests_of(backend, person.user_id) == []

        fields = {"subject": "Invoice question", "body": "Where is my invoice?"}
        status, location, _ = await submit(http, gateway.url, SUPPORT, fields)
        [opened] = await requests_of(backend, person.user_id)
        assert (status, location) == (303, f"{SUPPORT}/{opened.id}")
        assert (opened.subject, opened.status) == ("Invoice question", "open")
        thread = f"{SUPPORT}/{opened.id}"
        status, html = await fetch(http, gateway.url + thread)
        assert status == 200 and "Where is my invoice?" in html
        status, html = await fetch(http, gateway.url + SUPPORT)
        assert f'href="{thread}"' in html

        status, location, _ = await submit(
            http, gateway.url, thread + "/messages", {"body": "Any news?"}, token_from=thread
        )
        assert (status, location) == (303, thread + "#latest")
        empty = {"body": "   "}
        status, _, _ = await submit(
            http, gateway.url, thread + "/messages", empty, token_from=thread
        )
        assert status == 400
        assert [m.body for m in await messages_in(backend, opened.id)] == [
            "Where is my invoice?",
            "Any news?",
        ]

        # Nobody else reaches it: not the thread, not a message in it, not its closing.
        for other in others:
            assert (await fetch(other, gateway.url + thread))[0] == 404
            note = {"body": "Let me in"}
            status, _, _ = await submit(other, gateway.url, thread + "/messages", note)
            assert status == 404
            assert (await submit(other, gateway.url, thread + "/close", {}))[0] == 404
            # The inbox and its pages are the operators'.
            assert (await fetch(other, gateway.url + INBOX))[0] == 403
            assert (await fetch(other, gateway.url + f"{INBOX}/{opened.id}"))[0] == 403
            answer = {"body": "Pretending"}
            action = f"{INBOX}/{opened.id}/messages"
            assert (await submit(other, gateway.url, action, answer))[0] == 403
        assert (await fetch(http, gateway.url + INBOX))[0] == 403
        assert len(await messages_in(backend, opened.id)) == 2
        assert (await requests_of(backend, person.user_id))[0].status == "open"

        # The operator's inbox: open requests by default, closed ones on asking.
        status, html = await fetch(staff, gateway.url + INBOX)
        assert status == 200 and f'href="{INBOX}/{opened.id}"' in html and person.email in html
        status, html = await fetch(staff, gateway.url + INBOX + "?status=closed")
        assert status == 200 and f'href="{INBOX}/{opened.id}"' not in html
        assert (await fetch(staff, gateway.url + INBOX + "?status=all"))[0] == 200
        assert (await fetch(staff, gateway.url + INBOX + "?status=lost"))[0] == 400
        assert (await fetch(staff, gateway.url + INBOX + "/sup_missing"))[0] == 404

        inbox_thread = f"{INBOX}/{opened.id}"
        status, html = await fetch(staff, gateway.url + inbox_thread)
        assert status == 200 and "Any news?" in html and person.email in html
        answer = {"body": "It is in your mailbox."}
        status, location, _ = await submit(
            staff, gateway.url, inbox_thread + "/messages", answer, token_from=inbox_thread
        )
        assert (status, location) == (303, inbox_thread + "#latest")
        assert await replies_told(backend, person.user_id) == 1
        status, html = await fetch(http, gateway.url + thread)
        assert "It is in your mailbox." in html

        # The person closes it; then it takes no more of their messages.
        status, location, _ = await submit(
            http, gateway.url, thread + "/close", {}, token_from=thread
        )
        assert (status, location) == (303, thread)
        status, html = await fetch(http, gateway.url + thread)
        assert 'id="reply-form"' not in html and 'id="close-form"' not in html
        late = {"body": "One more thing"}
        status, _, html = await submit(http, gateway.url, thread + "/messages", late)
        assert status == 409 and 'role="alert"' in html
        assert (await submit(http, gateway.url, thread + "/close", {}))[0] == 409
        status, html = await fetch(staff, gateway.url + INBOX + "?status=closed")
        assert f'href="{inbox_thread}"' in html

        # An operator's answer opens it again; the operator closes it.
        again = {"body": "Reopened to add: paid."}
        status, _, _ = await submit(
            staff, gateway.url, inbox_thread + "/messages", again, token_from=inbox_thread
        )
        assert status == 303
        assert (await requests_of(backend, person.user_id))[0].status == "open"
        status, location, _ = await submit(
            staff, gateway.url, inbox_thread + "/close", {}, token_from=inbox_thread
        )
        assert (status, location) == (303, inbox_thread)
        assert (await requests_of(backend, person.user_id))[0].status == "closed"
        assert len(await messages_in(backend, opened.id)) == 4

        # The inbox in Chinese, once the operator chooses it.
        _, html = await fetch(staff, gateway.url + inbox_thread)
        fields = {"csrf_token": csrf_token_in(html), "language": "zh-Hans", "next": INBOX}
        async with staff.post(
            gateway.url + "/console/language", data=fields, allow_redirects=False
        ) as switched:
            assert switched.status == 303
        status, html = await fetch(staff, gateway.url + INBOX + "?status=closed")
        assert status == 200 and "支持收件箱" in html and "Invoice question" in html
        status, html = await fetch(staff, gateway.url + inbox_thread)
        assert status == 200 and "已关闭" in html and "It is in your mailbox." in html
    finally:
        for session in (http, staff, *others):
            await session.close()


async def stored_messages(backend: Backend, person: ConsolePerson) -> list[str]:
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(support_messages.c.body)
            .join(support_requests, support_requests.c.id == support_messages.c.request_id)
            .where(support_requests.c.user_id == person.user_id)
            .order_by(support_messages.c.created_at, support_messages.c.id)
        )
        return list(rows.scalars())


async def test_a_person_and_an_operator_talk_in_a_browser_and_markup_stays_text(
    browser: Browser, gateway: RunningGateway, backend: Backend
) -> None:
    person = await console_person(backend.engine)
    operator = await console_person(backend.engine, name="Olive Operator", role=Role.OPERATOR)
    async with (
        browsing_as(browser, gateway.url, person.email, locale="en-US") as asking,
        browsing_as(browser, gateway.url, operator.email, locale="en-US") as answering,
    ):
        page, desk = asking.page, answering.page
        await page.click(".main-nav a[href='/console/support']")
        assert page.url == gateway.url + SUPPORT
        assert await page.locator(".main-nav a[href='/console/operator/support']").count() == 0
        await page.fill("#support-subject", MARKUP)
        await page.fill("#support-body", f"{MARKUP}\nSecond line")
        await page.click("#support-form button[type=submit]")
        [opened] = await requests_of(backend, person.user_id)
        assert page.url == f"{gateway.url}{SUPPORT}/{opened.id}"
        assert await page.locator("#thread-subject").text_content() == MARKUP
        assert MARKUP in (await page.locator("#latest").text_content() or "")
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "support-thread")
        await page.click("a[href='/console/support']")
        assert MARKUP in (await page.locator("#support-table").text_content() or "")
        assert await page.locator("img[src=x]").count() == 0
        await screenshot(page, "support-list")

        await desk.click(".main-nav a[href='/console/operator/support']")
        assert desk.url == gateway.url + INBOX
        assert MARKUP in (await desk.locator("#inbox-table").text_content() or "")
        assert await desk.locator("img[src=x]").count() == 0
        await screenshot(desk, "support-inbox")
        await desk.click(f"#inbox-table a[href='{INBOX}/{opened.id}']")
        assert await desk.locator("#thread-subject").text_content() == MARKUP
        assert person.email in (await desk.locator("#thread-asker").text_content() or "")
        assert await desk.locator("img[src=x]").count() == 0
        await desk.fill("#reply-body", "Thanks for writing: fixed.")
        await desk.click("#reply-form button[type=submit]")
        assert "Thanks for writing: fixed." in (await desk.locator("#latest").text_content() or "")
        await screenshot(desk, "support-inbox-thread")

        # The person sees the answer.
        await page.click(f"#support-table a[href='{SUPPORT}/{opened.id}']")
        latest = await page.locator("#latest").text_content() or ""
        assert "Operator" in latest and "Thanks for writing: fixed." in latest
        assert await stored_messages(backend, person) == [
            f"{MARKUP}\nSecond line",
            "Thanks for writing: fixed.",
        ]
        await page.click("#close-form button[type=submit]")
        assert (await page.locator("#thread-state").text_content() or "").strip() == "closed"
