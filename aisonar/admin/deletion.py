"""Account deletion through the management API: a person asks (`POST
/api/me/deletion-request`, with their password); operators, and an organization's admins
when `AISONAR_DELETION_APPROVAL=org_admin`, list the requests and approve or reject them
(`privacy/requests.py`). An approval without delay erases the person before it answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.accounts.principal import Principal
from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.errors import NotFound
from aisonar.i18n import N_
from aisonar.notify.sender import Mail
from aisonar.privacy.erasure_job import erase_request
from aisonar.privacy.requests import (
    DeletionRequest,
    DeletionStatus,
    NotYoursToDecide,
    approve_request,
    get_request,
    list_requests,
    may_decide,
    reject_request,
    request_deletion,
)
from aisonar.web.deps import Acting, Caller, Config, Mailer, Services
from aisonar.web.inputs import DeletionAsk

router = APIRouter(tags=["privacy"])


class DeletionApprove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)


class DeletionReject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Told to the person.
    reason: str = Field(min_length=1, max_length=500)


class DeletionRequestOut(BaseModel):
    id: str
    user_id: str
    org_id: str
    requested_at: datetime
    reason: str | None
    # requested, approved, rejected or completed.
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    # When an approved request is erased (at the latest a little after).
    erase_after: datetime | None
    completed_at: datetime | None
    # When the erased bytes were gone from the database's files too; null for a while
    # when a transaction older than the erasure held them.
    storage_compacted_at: datetime | None
    # What was erased, what was kept and why, and whether the person was mailed it.
    receipt: dict[str, Any] | None

    @classmethod
    def of(cls, request: DeletionRequest) -> Self:
        return cls(**{name: getattr(request, name) for name in cls.model_fields})


@router.post(
    "/api/me/deletion-request",
    status_code=202,
    responses={409: {"description": "A deletion request of yours is already open."}},
)
async def ask_for_deletion(
    body: DeletionAsk, caller: Caller, actor: Acting, running: Services
) -> DeletionRequestOut:
    """Ask for your account to be deleted, confirming with your password. Your account is
    disabled at once (every session ends; your keys are revoked); once an operator approves,
    your personal data is erased within 30 days and you are mailed a receipt."""
    async with running.engine.begin() as conn:
        asked = await request_deletion(
            conn, caller.user_id, body.password, body.reason, actor=actor
        )
    return DeletionRequestOut.of(asked)


def _decider_scope(caller: Principal, settings: Settings) -> str | None:
    """The organization whose requests the caller decides (None: every one)."""
    if caller.is_operator:
        return None
    if not may_decide(caller, caller.org_id, settings.deletion_approval):
        raise NotYoursToDecide(N_("Only an operator decides deletion requests here."))
    return caller.org_id


async def _decidable(
    conn: AsyncConnection, caller: Principal, settings: Settings, request_id: str
) -> DeletionRequest:
    scope = _decider_scope(caller, settings)
    try:
        found = await get_request(conn, request_id)
    except NotFound:
        found = None
    if found is None or scope not in (None, found.org_id):
        raise NotFound(N_("no deletion request with id {request_id!r}"), request_id=request_id)
    return found


@router.get("/api/deletion-requests")
async def deletion_requests(
    caller: Caller,
    running: Services,
    settings: Config,
    status: Annotated[DeletionStatus | None, Query()] = None,
) -> list[DeletionRequestOut]:
    """Newest first: every request for operators; their organization's for its admins
    when they may decide them."""
    scope = _decider_scope(caller, settings)
    async with running.engine.connect() as conn:
        found = await list_requests(conn, org_id=scope, status=status)
    return [DeletionRequestOut.of(request) for request in found]


@router.get("/api/deletion-requests/{request_id}")
async def deletion_request(
    caller: Caller, running: Services, settings: Config, request_id: str
) -> DeletionRequestOut:
    async with running.engine.connect() as conn:
        return DeletionRequestOut.of(await _decidable(conn, caller, settings, request_id))


@router.post(
    "/api/deletion-requests/{request_id}/approve",
    responses={409: {"description": "The request is already decided."}},
)
async def approve_deletion(
    caller: Caller,
    actor: Acting,
    running: Services,
    settings: Config,
    mailer: Mailer,
    request_id: str,
    body: DeletionApprove,
) -> DeletionRequestOut:
    """Approve: the person's data is erased after `AISONAR_DELETION_ERASURE_DELAY_HOURS`
    (none by default: before this answers, then the request is completed)."""
    approved = await approve_deletion_request(
        running.engine, mailer, caller, actor, settings, request_id, body.reason
    )
    return DeletionRequestOut.of(approved)


async def approve_deletion_request(
    engine: AsyncEngine,
    mailer: Mail | None,
    caller: Principal,
    actor: Actor,
    settings: Settings,
    request_id: str,
    reason: str | None,
) -> DeletionRequest:
    """Approve the request if the caller decides it, erasing the person at once when no
    delay is set (the console approves through this too)."""
    delay = timedelta(hours=settings.deletion_erasure_delay_hours)
    async with engine.begin() as conn:
        await _decidable(conn, caller, settings, request_id)
        approved = await approve_request(conn, request_id, reason=reason, delay=delay, actor=actor)
    if not delay:
        await erase_request(engine, mailer, request_id)
        async with engine.connect() as conn:
            approved = await get_request(conn, request_id)
    return approved


@router.post(
    "/api/deletion-requests/{request_id}/reject",
    responses={409: {"description": "The request is already decided."}},
)
async def reject_deletion(
    caller: Caller,
    actor: Acting,
    running: Services,
    settings: Config,
    request_id: str,
    body: DeletionReject,
) -> DeletionRequestOut:
    """Reject, with a reason the person is told; their account stays disabled until an
    operator enables it again."""
    async with running.engine.begin() as conn:
        rejected = await reject_deletion_request(
            conn, caller, actor, settings, request_id, body.reason
        )
    return DeletionRequestOut.of(rejected)


async def reject_deletion_request(
    conn: AsyncConnection,
    caller: Principal,
    actor: Actor,
    settings: Settings,
    request_id: str,
    reason: str,
) -> DeletionRequest:
    """Reject the request if the caller decides it (the console rejects through this too)."""
    await _decidable(conn, caller, settings, request_id)
    return await reject_request(conn, request_id, reason=reason, actor=actor)
