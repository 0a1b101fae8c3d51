"""Opening support requests, writing in them, answering and closing them. A person
reaches only their own requests (another's is unknown to them, whatever their role);
operators reach every one. A person writes only in an open request; an operator's answer
reopens a closed one. Opening, answers and closing are audited, without what was written:
that is the person's content. A person's own requests as they write them
(`open_own_request`, `write_in_own_request`: `POST /api/me/support` and its messages, the
console's support pages) count each message against their hourly allowance
(`AISONAR_SUPPORT_MESSAGES_PER_HOUR`), refused with nothing stored past it."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.accounts.listing import EVERY, Page, paged
from aisonar.accounts.services import get_user
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.config import Settings
from aisonar.errors import AlreadyExists, InvalidInput, NotFound, Throttled
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore
from aisonar.limits.throttle import count_one, hourly
from aisonar.notify.notices import SUPPORT_REPLY, record_notice
from aisonar.store.tables import support_messages, support_requests
from aisonar.support.models import (
    MAX_BODY_CHARS,
    MAX_SUBJECT_CHARS,
    AuthorRole,
    SupportMessage,
    SupportRequest,
    SupportRequestClosed,
    SupportStatus,
    SupportThread,
)

_LIST_LIMIT = 1000
# Line breaks and tabs are part of a message; other control characters are not.
_CONTROL_IN_BODY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _subject(text: str) -> str:
    cleaned = text.strip()
    if not cleaned or len(cleaned) > MAX_SUBJECT_CHARS or _CONTROL.search(cleaned):
        raise InvalidInput(
            N_("a subject is 1 to {max_subject_chars} characters on one line"),
            param="subject",
            max_subject_chars=MAX_SUBJECT_CHARS,
        )
    return cleaned


def _body(text: str) -> str:
    cleaned = text.strip()
    if not cleaned or len(cleaned) > MAX_BODY_CHARS:
        raise InvalidInput(
            N_("a message is 1 to {max_body_chars} characters"),
            param="body",
            max_body_chars=MAX_BODY_CHARS,
        )
    if _CONTROL_IN_BODY.search(cleaned):
        raise InvalidInput(
            N_("a message holds no control characters but line breaks"), param="body"
        )
    return cleaned


def _fields(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "org_id": row.org_id,
        "user_id": row.user_id,
        "subject": row.subject,
        "status": SupportStatus(row.status),
        "created_at": as_utc(row.created_at),
        "updated_at": as_utc(row.updated_at),
        "closed_at": None if row.closed_at is None else as_utc(row.closed_at),
    }


def _message(row: Any) -> SupportMessage:
    return SupportMessage(
        id=row.id,
        request_id=row.request_id,
        author_user_id=row.author_user_id,
        author_role=AuthorRole(row.author_role),
        body=row.body,
        created_at=as_utc(row.created_at),
    )


async def _messages(conn: AsyncConnection, request_ids: list[str]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {request_id: [] for request_id in request_ids}
    rows = await conn.execute(
        select(support_messages)
        .where(support_messages.c.request_id.in_(request_ids))
        .order_by(support_messages.c.created_at, support_messages.c.id)
    )
    for row in rows:
        found[row.request_id].append(_message(row))
    return found


async def get_thread(
    conn: AsyncConnection, request_id: str, *, user_id: str | None = None
) -> SupportThread:
    """The request with its messages; only if it is `user_id`'s, when given."""
    query = select(support_requests).where(support_requests.c.id == request_id)
    if user_id is not None:
        query = query.where(support_requests.c.user_id == user_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(N_("no support request with id {request_id!r}"), request_id=request_id)
    messages = await _messages(conn, [request_id])
    return SupportThread(**_fields(row), messages=tuple(messages[request_id]))


def _narrowed(user_id: str | None, status: SupportStatus | None) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if user_id is not None:
        found.append(support_requests.c.user_id == user_id)
    if status is not None:
        found.append(support_requests.c.status == status.value)
    return found


async def list_requests(
    conn: AsyncConnection,
    *,
    user_id: str | None = None,
    status: SupportStatus | None = None,
    page: Page = EVERY,
) -> list[SupportRequest]:
    """The most recently active first (keyset on the last activity, then id), from the
    page's start (at most 1,000): one person's, or every one; one status only, when given.
    A cursor outside those is refused like an unknown one."""
    query = select(support_requests).where(*_narrowed(user_id, status))
    bounded = replace(
        page, limit=min(page.limit or _LIST_LIMIT, _LIST_LIMIT + 1), newest_first=True
    )
    listed = await paged(conn, support_requests, query, bounded, order="updated_at")
    return [SupportRequest(**_fields(row)) for row in await conn.execute(listed)]


async def count_requests(
    conn: AsyncConnection, *, user_id: str | None = None, status: SupportStatus | None = None
) -> int:
    query = select(func.count()).select_from(support_requests)
    return int((await conn.execute(query.where(*_narrowed(user_id, status)))).scalar_one())


async def requests_of(conn: AsyncConnection, user_id: str) -> list[SupportThread]:
    """Every request of the person with its messages, oldest first (their data export)."""
    rows = list(
        await conn.execute(
            select(support_requests)
            .where(support_requests.c.user_id == user_id)
            .order_by(support_requests.c.created_at, support_requests.c.id)
        )
    )
    messages = await _messages(conn, [row.id for row in rows])
    return [SupportThread(**_fields(row), messages=tuple(messages[row.id])) for row in rows]


async def _write(
    conn: AsyncConnection, request_id: str, author_user_id: str | None, role: AuthorRole, body: str
) -> str:
    """Store the message; the request is open (an answer reopens a closed one) and active
    from now."""
    message_id = new_id("msg")
    now = utcnow()
    await conn.execute(
        support_messages.insert().values(
            id=message_id,
            request_id=request_id,
            author_user_id=author_user_id,
            author_role=role.value,
            body=body,
            created_at=now,
        )
    )
    await conn.execute(
        update(support_requests)
        .where(support_requests.c.id == request_id)
        .values(updated_at=now, status=SupportStatus.OPEN.value, closed_at=None)
    )
    return message_id


async def open_request(
    conn: AsyncConnection, user_id: str, subject: str, body: str, *, actor: Actor = SYSTEM
) -> SupportThread:
    """A new open request of the person, with their first message."""
    cleaned_subject, cleaned_body = _subject(subject), _body(body)
    person = await get_user(conn, user_id)
    request_id = new_id("sup")
    now = utcnow()
    await conn.execute(
        support_requests.insert().values(
            id=request_id,
            org_id=person.org_id,
            user_id=user_id,
            subject=cleaned_subject,
            status=SupportStatus.OPEN.value,
            created_at=now,
            updated_at=now,
        )
    )
    await _write(conn, request_id, user_id, AuthorRole.USER, cleaned_body)
    await audit.record(
        conn,
        actor,
        "support.open",
        object_kind="support_request",
        object_id=request_id,
        org_id=person.org_id,
        changes=audit.created({"status": SupportStatus.OPEN.value}),
    )
    return await get_thread(conn, request_id)


async def add_message(
    conn: AsyncConnection, request_id: str, user_id: str, body: str
) -> SupportThread:
    """The person writes in their own open request."""
    cleaned = _body(body)
    thread = await get_thread(conn, request_id, user_id=user_id)
    if thread.status is SupportStatus.CLOSED:
        raise SupportRequestClosed(request_id)
    await _write(conn, request_id, user_id, AuthorRole.USER, cleaned)
    return await get_thread(conn, request_id)


async def reply(
    conn: AsyncConnection, request_id: str, body: str, *, actor: Actor = SYSTEM
) -> SupportThread:
    """An operator answers (reopening the request if it was closed); the person is told,
    with the answer."""
    cleaned = _body(body)
    before = await get_thread(conn, request_id)
    message_id = await _write(conn, request_id, actor.user_id, AuthorRole.OPERATOR, cleaned)
    changes = {"message": [None, message_id]}
    if before.status is SupportStatus.CLOSED:
        changes["status"] = [before.status.value, SupportStatus.OPEN.value]
    await audit.record(
        conn,
        actor,
        "support.reply",
        object_kind="support_request",
        object_id=request_id,
        org_id=before.org_id,
        changes=changes,
    )
    data = {"request_id": request_id, "subject": before.subject, "message": cleaned}
    await record_notice(conn, before.org_id, SUPPORT_REPLY, data, user_id=before.user_id)
    return await get_thread(conn, request_id)


async def close_request(
    conn: AsyncConnection, request_id: str, *, user_id: str | None = None, actor: Actor = SYSTEM
) -> SupportThread:
    """Close an open request: the person's own (`user_id`), or any one for operators."""
    before = await get_thread(conn, request_id, user_id=user_id)
    now = utcnow()
    closed = await conn.execute(
        update(support_requests)
        .where(
            support_requests.c.id == request_id,
            support_requests.c.status == SupportStatus.OPEN.value,
        )
        .values(status=SupportStatus.CLOSED.value, closed_at=now, updated_at=now)
    )
    if closed.rowcount != 1:
        raise AlreadyExists(
            N_("the support request {request_id} is already closed"), request_id=request_id
        )
    await audit.record(
        conn,
        actor,
        "support.close",
        object_kind="support_request",
        object_id=request_id,
        org_id=before.org_id,
        changes={"status": [before.status.value, SupportStatus.CLOSED.value]},
    )
    return await get_thread(conn, request_id)


# A person's own requests as they write them, counted against their hourly allowance.
class TooManySupportMessages(Throttled):
    code = "too_many_support_messages"
    refusal = N_("Too many support messages; try again in {seconds} s.")


async def _count_message(store: LimitStore, settings: Settings, user_id: str) -> None:
    """Count one message of the person; refused (429) past their hourly allowance."""
    check = hourly(
        "support messages of the account",
        f"support:user:{user_id}",
        settings.support_messages_per_hour,
    )
    await count_one(store, [check], TooManySupportMessages)


async def open_own_request(
    engine: AsyncEngine,
    store: LimitStore,
    settings: Settings,
    user_id: str,
    actor: Actor,
    *,
    subject: str,
    body: str,
) -> SupportThread:
    """The person's new request with its first message, counted against their hourly
    allowance."""
    async with engine.begin() as conn:
        opened = await open_request(conn, user_id, subject, body, actor=actor)
        # Counted once it would be stored; a refusal rolls it back.
        await _count_message(store, settings, user_id)
    return opened


async def write_in_own_request(
    engine: AsyncEngine,
    store: LimitStore,
    settings: Settings,
    user_id: str,
    support_id: str,
    body: str,
) -> SupportThread:
    """The person's message in their own open request, counted against their hourly
    allowance."""
    async with engine.begin() as conn:
        written = await add_message(conn, support_id, user_id, body)
        await _count_message(store, settings, user_id)
    return written
