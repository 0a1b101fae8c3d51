"""Support requests in the console. Everyone: their own requests (`/api/me/support`), a
new one (subject and first message), a thread with its messages, writing in an open one
and closing it; another person's request, whatever the role, is not found, as in the
API. Operators: the inbox of every person's requests (`/api/support`), by state, where
they answer (reopening a closed request; the person is told) and close. Through the same
functions as the API: what a person writes is counted against their hourly allowance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.models import User
from aisonar.accounts.services import Page, users_by_id
from aisonar.console.auth import invalid
from aisonar.console.csrf import Form, checked_form
from aisonar.console.navigation import N_
from aisonar.console.paging import pager
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput, NotFound
from aisonar.support import services as support
from aisonar.support.models import (
    MAX_BODY_CHARS,
    MAX_SUBJECT_CHARS,
    SupportRequest,
    SupportStatus,
    SupportThread,
)
from aisonar.support.services import open_own_request, write_in_own_request
from aisonar.web.deps import Config, Engine, Services, operator
from aisonar.web.inputs import SupportMessageIn, SupportOpen

router = console_router()

SUPPORT_PATH = "/console/support"
INBOX_PATH = "/console/operator/support"
PAGE_SIZE = 50
STATUS_NAMES = {SupportStatus.OPEN: N_("open"), SupportStatus.CLOSED: N_("closed")}
# The inbox's filter that shows requests in every state.
EVERY = "all"

# Which page of a list, from 1.
PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000)]


@dataclass(frozen=True)
class Listed:
    """One page of requests, with the links to the pages around it."""

    requests: list[SupportRequest]
    pages: Any


async def _listed(
    conn: AsyncConnection,
    number: int,
    address: str,
    query: dict[str, str],
    *,
    user_id: str | None = None,
    status: SupportStatus | None = None,
) -> Listed:
    """The page `number` (from 1) of the requests, most recently active first, read in
    SQL with their count."""
    count = await support.count_requests(conn, user_id=user_id, status=status)
    at = Page(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    found = await support.list_requests(conn, user_id=user_id, status=status, page=at)
    return Listed(found, pager(address, query, number, count, PAGE_SIZE))


def _message(form: Form) -> str:
    """The message typed: a browser sends a text area's line breaks as CRLF, stored as
    the line breaks they are."""
    return form.text("body").replace("\r\n", "\n")


def _failure(error: ValidationError | AISonarError, member: MemberVisit) -> tuple[str, int]:
    """The message and status a refused form is shown again with."""
    if isinstance(error, ValidationError):
        return error_text(invalid(error), member.language), 400
    return error_text(error, member.language), error.status


def _with_retry(response: Response, error: ValidationError | AISonarError) -> Response:
    if isinstance(error, AISonarError) and error.retry_after is not None:
        response.headers["retry-after"] = error.retry_after
    return response


# The person's side.


async def _my_requests_page(
    member: MemberVisit,
    db: Engine,
    number: int,
    *,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    async with db.connect() as conn:
        listed = await _listed(conn, number, SUPPORT_PATH, {}, user_id=member.principal.user_id)
    context: dict[str, Any] = {
        "listed": listed,
        "status_names": STATUS_NAMES,
        "typed": typed or {"subject": "", "body": ""},
        "error": error,
        "max_subject": MAX_SUBJECT_CHARS,
        "max_body": MAX_BODY_CHARS,
    }
    return page(member, "support.html", context, status=status)


@router.get(SUPPORT_PATH)
async def my_requests(member: Member, db: Engine, page_number: PageNumber = 1) -> Response:
    return await _my_requests_page(member, db, page_number)


@router.post(SUPPORT_PATH)
async def open_request(
    request: Request, member: Member, running: Services, settings: Config
) -> Response:
    """`POST /api/me/support`: a new request with its first message."""
    form = await checked_form(request, member)
    typed = {"subject": form.text("subject"), "body": _message(form)}
    try:
        body = SupportOpen.model_validate(typed)
        opened = await open_own_request(
            running.engine,
            running.limiter.store,
            settings,
            member.principal.user_id,
            member.actor,
            subject=body.subject,
            body=body.body,
        )
    except (ValidationError, AISonarError) as error:
        message, status = _failure(error, member)
        shown = await _my_requests_page(
            member, running.engine, 1, typed=typed, error=message, status=status
        )
        return _with_retry(shown, error)
    return see_other(f"{SUPPORT_PATH}/{opened.id}")


async def _thread_page(
    member: MemberVisit,
    thread: SupportThread,
    *,
    people: dict[str, User] | None = None,
    typed: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    inbox = people is not None
    context: dict[str, Any] = {
        "thread": thread,
        "inbox": inbox,
        "home": f"{INBOX_PATH}/{thread.id}" if inbox else f"{SUPPORT_PATH}/{thread.id}",
        "back": INBOX_PATH if inbox else SUPPORT_PATH,
        "people": people or {},
        "asker": (people or {}).get(thread.user_id),
        "status_names": STATUS_NAMES,
        "typed": typed,
        "error": error,
        "max_body": MAX_BODY_CHARS,
    }
    return page(member, "support_thread.html", context, status=status)


async def _own_thread(db: Engine, member: MemberVisit, support_id: str) -> SupportThread:
    """The person's own request; another's is not found."""
    async with db.connect() as conn:
        return await support.get_thread(conn, support_id, user_id=member.principal.user_id)


@router.get(SUPPORT_PATH + "/{support_id}")
async def my_request(member: Member, db: Engine, support_id: str) -> Response:
    return await _thread_page(member, await _own_thread(db, member, support_id))


@router.post(SUPPORT_PATH + "/{support_id}/messages")
async def write_in_my_request(
    request: Request, member: Member, running: Services, settings: Config, support_id: str
) -> Response:
    """`POST /api/me/support/{id}/messages`: only in the person's own open request."""
    form = await checked_form(request, member)
    typed = _message(form)
    try:
        body = SupportMessageIn(body=typed)
        await write_in_own_request(
            running.engine,
            running.limiter.store,
            settings,
            member.principal.user_id,
            support_id,
            body.body,
        )
    except (ValidationError, AISonarError) as error:
        if isinstance(error, NotFound):
            raise
        message, status = _failure(error, member)
        thread = await _own_thread(running.engine, member, support_id)
        shown = await _thread_page(member, thread, typed=typed, error=message, status=status)
        return _with_retry(shown, error)
    return see_other(f"{SUPPORT_PATH}/{support_id}#latest")


@router.post(SUPPORT_PATH + "/{support_id}/close")
async def close_my_request(
    request: Request, member: Member, db: Engine, support_id: str
) -> Response:
    """`POST /api/me/support/{id}/close`."""
    await checked_form(request, member)
    async with db.begin() as conn:
        await support.close_request(
            conn, support_id, user_id=member.principal.user_id, actor=member.actor
        )
    return see_other(f"{SUPPORT_PATH}/{support_id}")


# The operators' inbox.


@router.get(INBOX_PATH)
async def inbox(
    member: Member,
    db: Engine,
    status: str = SupportStatus.OPEN.value,
    page_number: PageNumber = 1,
) -> Response:
    """`GET /api/support`: the open requests, the closed ones, or `all`."""
    await operator(member.principal)
    if status != EVERY and status not in set(SupportStatus):
        raise InvalidInput(N_("the state is open, closed or all"), param="status")
    wanted = None if status == EVERY else SupportStatus(status)
    async with db.connect() as conn:
        listed = await _listed(conn, page_number, INBOX_PATH, {"status": status}, status=wanted)
        # The people asking (one erased since is left out).
        people = await users_by_id(conn, {request.user_id for request in listed.requests})
    context = {
        "listed": listed,
        "people": people,
        "shown": status,
        "filters": [(state.value, STATUS_NAMES[state]) for state in SupportStatus]
        + [(EVERY, N_("all"))],
        "status_names": STATUS_NAMES,
    }
    return page(member, "support_inbox.html", context)


async def _inbox_thread(db: Engine, support_id: str) -> tuple[SupportThread, dict[str, User]]:
    async with db.connect() as conn:
        thread = await support.get_thread(conn, support_id)
        authors = {message.author_user_id for message in thread.messages}
        people = await users_by_id(conn, {thread.user_id, *authors})
    return thread, people


@router.get(INBOX_PATH + "/{support_id}")
async def inbox_request(member: Member, db: Engine, support_id: str) -> Response:
    await operator(member.principal)
    thread, people = await _inbox_thread(db, support_id)
    return await _thread_page(member, thread, people=people)


@router.post(INBOX_PATH + "/{support_id}/messages")
async def answer_request(request: Request, member: Member, db: Engine, support_id: str) -> Response:
    """`POST /api/support/{id}/messages`: an operator's answer (reopening a closed
    request); the person is told."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = _message(form)
    try:
        body = SupportMessageIn(body=typed)
        async with db.begin() as conn:
            await support.reply(conn, support_id, body.body, actor=member.actor)
    except (ValidationError, AISonarError) as error:
        if isinstance(error, NotFound):
            raise
        message, status = _failure(error, member)
        thread, people = await _inbox_thread(db, support_id)
        return await _thread_page(
            member, thread, people=people, typed=typed, error=message, status=status
        )
    return see_other(f"{INBOX_PATH}/{support_id}#latest")


@router.post(INBOX_PATH + "/{support_id}/close")
async def close_request(request: Request, member: Member, db: Engine, support_id: str) -> Response:
    """`POST /api/support/{id}/close`."""
    await operator(member.principal)
    await checked_form(request, member)
    async with db.begin() as conn:
        await support.close_request(conn, support_id, actor=member.actor)
    return see_other(f"{INBOX_PATH}/{support_id}")
