"""Account deletion through the management API: a person asks (`POST
/api/me/deletion-request`, with their password); operators, and an organization's admins
when `AISONAR_DELETION_APPROVAL=org_admin`, list the requests and approve or reject them
(`privacy/requests.py`, `privacy/deciding.py`). An approval without delay erases the
person before it answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from aisonar.api import paging
from aisonar.api.paging import After, Limit
from aisonar.privacy.services import (
    Approval,
    DeletionRequest,
    DeletionStatus,
    ReasonText,
    Rejection,
    approve_deletion_request,
    decidable,
    decider_scope,
    list_requests,
    reject_deletion_request,
    request_deletion,
)
from aisonar.web.deps import Acting, Caller, Config, Mailer, Services
from aisonar.web.inputs import DeletionAsk

router = APIRouter(tags=["privacy"])


class DeletionApprove(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: ReasonText | None = None


class DeletionReject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Told to the person.
    reason: Annotated[ReasonText, Field(min_length=1)]


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


@router.get("/api/deletion-requests")
async def deletion_requests(
    caller: Caller,
    running: Services,
    settings: Config,
    response: Response,
    status: Annotated[DeletionStatus | None, Query()] = None,
    after: After = None,
    limit: Limit = None,
) -> list[DeletionRequestOut]:
    """Newest first: every request for operators; their organization's for its admins
    when they may decide them. `?after=<id>&limit=N` pages them, the next page's address
    in the `Link` header (`rel="next"`)."""
    scope = decider_scope(caller, settings)
    async with running.engine.connect() as conn:
        page = paging.page(after, limit)
        found = await list_requests(conn, org_id=scope, status=status, page=page)
    path = "/api/deletion-requests" if status is None else f"/api/deletion-requests?status={status}"
    shown = paging.cut(found, limit, response, path, lambda request: request.id)
    return [DeletionRequestOut.of(request) for request in shown]


@router.get("/api/deletion-requests/{request_id}")
async def deletion_request(
    caller: Caller, running: Services, settings: Config, request_id: str
) -> DeletionRequestOut:
    async with running.engine.connect() as conn:
        return DeletionRequestOut.of(await decidable(conn, caller, settings, request_id))


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
    approval = Approval(reason=body.reason)
    approved = await approve_deletion_request(
        running.engine, mailer, caller, actor, settings, request_id, approval
    )
    return DeletionRequestOut.of(approved)


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
        rejection = Rejection(reason=body.reason)
        rejected = await reject_deletion_request(
            conn, caller, actor, settings, request_id, rejection
        )
    return DeletionRequestOut.of(rejected)
