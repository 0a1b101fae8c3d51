"""Support requests through the management API: a person opens requests and writes in
them (`/api/me/support`); operators read every request, answer and close them
(`/api/support`). A person reaches only their own requests: another's, even a member's
of the organization they administer, is 404 to them. What people write is limited per
person (`AISONAR_SUPPORT_MESSAGES_PER_HOUR`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from aisonar.api import paging
from aisonar.api.paging import After
from aisonar.support import services as support
from aisonar.support.models import (
    AuthorRole,
    SupportMessage,
    SupportRequest,
    SupportStatus,
    SupportThread,
)
from aisonar.support.services import open_own_request, write_in_own_request
from aisonar.web.deps import Acting, Caller, Config, Operator, Services
from aisonar.web.inputs import SupportMessageIn, SupportOpen

router = APIRouter(tags=["support"])

_TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many support messages this hour; nothing was stored."}
}


class SupportMessageOut(BaseModel):
    id: str
    # Null for an operator answering from the command line.
    author_user_id: str | None
    author_role: AuthorRole
    body: str
    created_at: datetime

    @classmethod
    def of(cls, message: SupportMessage) -> Self:
        return cls(**{name: getattr(message, name) for name in cls.model_fields})


class _RequestFields(BaseModel):
    id: str
    org_id: str
    user_id: str
    subject: str
    status: SupportStatus
    created_at: datetime
    # The last message or change of status.
    updated_at: datetime
    closed_at: datetime | None


class SupportRequestOut(_RequestFields):
    @classmethod
    def of(cls, request: SupportRequest) -> Self:
        return cls(**{name: getattr(request, name) for name in cls.model_fields})


class SupportThreadOut(_RequestFields):
    # Oldest first.
    messages: list[SupportMessageOut]

    @classmethod
    def of(cls, thread: SupportThread) -> Self:
        fields = {name: getattr(thread, name) for name in _RequestFields.model_fields}
        return cls(**fields, messages=[SupportMessageOut.of(m) for m in thread.messages])


# As many as a list answered before it paged.
_PageLimit = Annotated[int, Query(ge=1, le=1000, description="At most this many requests.")]


def _listed(
    found: list[SupportRequest], limit: int, response: Response, path: str
) -> list[SupportRequestOut]:
    shown = paging.cut(found, limit, response, path, lambda request: request.id)
    return [SupportRequestOut.of(request) for request in shown]


@router.get("/api/me/support")
async def my_support_requests(
    caller: Caller,
    running: Services,
    response: Response,
    after: After = None,
    limit: _PageLimit = 1000,
) -> list[SupportRequestOut]:
    """Your support requests, the most recently active first, `limit` of them; the next
    page's address (`?after=<id>&limit=N`) in the `Link` header (`rel="next"`)."""
    page = paging.page(after, limit)
    async with running.engine.connect() as conn:
        found = await support.list_requests(conn, user_id=caller.user_id, page=page)
    return _listed(found, limit, response, "/api/me/support")


@router.post("/api/me/support", status_code=201, responses=_TOO_MANY)
async def open_support_request(
    body: SupportOpen, caller: Caller, actor: Acting, running: Services, settings: Config
) -> SupportThreadOut:
    """Ask the operators of this installation for help: a new request with its first
    message. Only you and the operators read it; you hear of each answer."""
    opened = await open_own_request(
        running.engine,
        running.limiter.store,
        settings,
        caller.user_id,
        actor,
        subject=body.subject,
        body=body.body,
    )
    return SupportThreadOut.of(opened)


@router.get("/api/me/support/{support_id}")
async def my_support_request(
    caller: Caller, running: Services, support_id: str
) -> SupportThreadOut:
    async with running.engine.connect() as conn:
        found = await support.get_thread(conn, support_id, user_id=caller.user_id)
    return SupportThreadOut.of(found)


@router.post(
    "/api/me/support/{support_id}/messages",
    status_code=201,
    responses={409: {"description": "The request is closed: open a new one."}, **_TOO_MANY},
)
async def write_in_my_support_request(
    body: SupportMessageIn,
    caller: Caller,
    running: Services,
    settings: Config,
    support_id: str,
) -> SupportThreadOut:
    """Write in your open request; a closed one takes no more messages."""
    written = await write_in_own_request(
        running.engine, running.limiter.store, settings, caller.user_id, support_id, body.body
    )
    return SupportThreadOut.of(written)


@router.post(
    "/api/me/support/{support_id}/close",
    responses={409: {"description": "The request is already closed."}},
)
async def close_my_support_request(
    caller: Caller, actor: Acting, running: Services, support_id: str
) -> SupportThreadOut:
    async with running.engine.begin() as conn:
        closed = await support.close_request(conn, support_id, user_id=caller.user_id, actor=actor)
    return SupportThreadOut.of(closed)


@router.get("/api/support")
async def support_requests(
    caller: Operator,
    running: Services,
    response: Response,
    status: Annotated[SupportStatus | None, Query()] = None,
    after: After = None,
    limit: _PageLimit = 1000,
) -> list[SupportRequestOut]:
    """Every person's support requests (one status only, when given), the most recently
    active first, `limit` of them, paged like `/api/me/support`. Operators only."""
    page = paging.page(after, limit)
    async with running.engine.connect() as conn:
        found = await support.list_requests(conn, status=status, page=page)
    path = "/api/support" if status is None else f"/api/support?status={status}"
    return _listed(found, limit, response, path)


@router.get("/api/support/{support_id}")
async def support_request(caller: Operator, running: Services, support_id: str) -> SupportThreadOut:
    async with running.engine.connect() as conn:
        return SupportThreadOut.of(await support.get_thread(conn, support_id))


@router.post("/api/support/{support_id}/messages", status_code=201)
async def answer_support_request(
    body: SupportMessageIn, caller: Operator, actor: Acting, running: Services, support_id: str
) -> SupportThreadOut:
    """Answer as an operator (a closed request opens again); the person is told, by the
    channels their notification settings choose, with the answer."""
    async with running.engine.begin() as conn:
        return SupportThreadOut.of(await support.reply(conn, support_id, body.body, actor=actor))


@router.post(
    "/api/support/{support_id}/close",
    responses={409: {"description": "The request is already closed."}},
)
async def close_support_request(
    caller: Operator, actor: Acting, running: Services, support_id: str
) -> SupportThreadOut:
    async with running.engine.begin() as conn:
        return SupportThreadOut.of(await support.close_request(conn, support_id, actor=actor))
