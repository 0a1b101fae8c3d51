"""Deletion requests: a person asks for their account to be deleted, which disables it
and revokes its keys at once; an operator (or, when the settings allow it, an admin of
the person's organization) approves or rejects it with a reason. An approved request is
erased by `erasure_job.py` once due; a rejected one leaves the account disabled until an
operator enables it again (the person asked to leave; they are told why it was refused
and whom to ask)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.listing import EVERY, Page, paged
from aisonar.accounts.membership import update_user
from aisonar.accounts.passwords import verify_password
from aisonar.accounts.principal import Principal
from aisonar.accounts.services import get_user, revoke_key
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.errors import AISonarError, AlreadyExists, InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.notify.notices import DELETION_REJECTED, DELETION_REQUESTED, record_notice
from aisonar.store.roles import Role
from aisonar.store.tables import api_keys, deletion_requests, users

Approval = Literal["operator", "org_admin"]
_LIST_LIMIT = 1000


class DeletionStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"


# A person has at most one of these at a time.
OPEN_STATUSES = (DeletionStatus.REQUESTED.value, DeletionStatus.APPROVED.value)


class DeletionPasswordRequired(AISonarError):
    """A person without a password (access tokens only) cannot prove it is them."""

    status = 403
    kind = "permission_error"
    code = "password_required"

    def __init__(self) -> None:
        super().__init__(
            N_(
                "Your account has no password to confirm the request with; ask an operator to "
                "delete your account."
            )
        )


class NotYoursToDecide(AISonarError):
    status = 403
    kind = "permission_error"
    code = "forbidden"


@dataclass(frozen=True)
class DeletionRequest:
    id: str
    user_id: str
    org_id: str
    requested_at: datetime
    reason: str | None
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    erase_after: datetime | None
    completed_at: datetime | None
    storage_compacted_at: datetime | None
    receipt: dict[str, Any] | None


def _optional_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _request(row: Any) -> DeletionRequest:
    return DeletionRequest(
        id=row.id,
        user_id=row.user_id,
        org_id=row.org_id,
        requested_at=as_utc(row.requested_at),
        reason=row.reason,
        status=row.status,
        decided_by=row.decided_by,
        decided_at=_optional_utc(row.decided_at),
        decision_reason=row.decision_reason,
        erase_after=_optional_utc(row.erase_after),
        completed_at=_optional_utc(row.completed_at),
        storage_compacted_at=_optional_utc(row.storage_compacted_at),
        receipt=None if row.receipt is None else dict(row.receipt),
    )


def may_decide(caller: Principal, org_id: str, approval: Approval) -> bool:
    """Operators decide every request; an organization's admins their members' when the
    settings say so."""
    if caller.is_operator:
        return True
    return approval == "org_admin" and caller.role is Role.ORG_ADMIN and caller.org_id == org_id


async def request_deletion(
    conn: AsyncConnection,
    user_id: str,
    password: str | None,
    reason: str | None,
    *,
    actor: Actor = SYSTEM,
) -> DeletionRequest:
    """Record the request, confirmed with the person's password; their account is
    disabled (sessions end, keys stop on every server within a second) and every key of
    theirs revoked. 409 while another request of theirs is open."""
    person = (
        await conn.execute(
            select(users.c.password_hash).where(users.c.id == user_id).with_for_update()
        )
    ).one()
    if person.password_hash is None:
        raise DeletionPasswordRequired()
    if password is None or not verify_password(person.password_hash, password):
        raise InvalidInput(N_("the password is wrong"), param="password")
    open_request = await conn.execute(
        select(deletion_requests.c.id).where(
            deletion_requests.c.user_id == user_id, deletion_requests.c.status.in_(OPEN_STATUSES)
        )
    )
    if open_request.first() is not None:
        raise AlreadyExists(N_("a deletion request of this account is already open"))
    user = await get_user(conn, user_id)
    request_id = new_id("del")
    cleaned = (reason or "").strip() or None
    await conn.execute(
        deletion_requests.insert().values(
            id=request_id,
            user_id=user_id,
            org_id=user.org_id,
            requested_at=utcnow(),
            reason=cleaned,
            status=DeletionStatus.REQUESTED.value,
        )
    )
    if not user.disabled:
        await update_user(conn, user_id, disabled=True, actor=actor)
    await _revoke_keys(conn, user_id, actor)
    await audit.record(
        conn,
        actor,
        "user.deletion_request",
        object_kind="user",
        object_id=user_id,
        org_id=user.org_id,
        changes={"deletion_request": [None, request_id]},
    )
    await record_notice(
        conn, user.org_id, DELETION_REQUESTED, {"request_id": request_id}, user_id=user_id
    )
    return await get_request(conn, request_id)


async def _revoke_keys(conn: AsyncConnection, user_id: str, actor: Actor) -> None:
    active = await conn.execute(
        select(api_keys.c.id).where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
    )
    for key_id in list(active.scalars()):
        await revoke_key(conn, key_id, actor=actor)


async def get_request(conn: AsyncConnection, request_id: str) -> DeletionRequest:
    row = (
        await conn.execute(select(deletion_requests).where(deletion_requests.c.id == request_id))
    ).first()
    if row is None:
        raise NotFound(N_("no deletion request with id {request_id!r}"), request_id=request_id)
    return _request(row)


def _narrowed(org_id: str | None, status: DeletionStatus | None) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if org_id is not None:
        found.append(deletion_requests.c.org_id == org_id)
    if status is not None:
        found.append(deletion_requests.c.status == status.value)
    return found


async def count_requests(
    conn: AsyncConnection, *, org_id: str | None = None, status: DeletionStatus | None = None
) -> int:
    query = select(func.count()).select_from(deletion_requests)
    return int((await conn.execute(query.where(*_narrowed(org_id, status)))).scalar_one())


async def list_requests(
    conn: AsyncConnection,
    *,
    org_id: str | None = None,
    status: DeletionStatus | None = None,
    page: Page = EVERY,
) -> list[DeletionRequest]:
    """Newest first, from the page's start (at most 1,000); an organization's only, or one
    status only, when given."""
    query = select(deletion_requests).where(*_narrowed(org_id, status))
    limit = min(page.limit or _LIST_LIMIT, _LIST_LIMIT + 1)
    bounded = replace(page, limit=limit, newest_first=True)
    query = await paged(conn, deletion_requests, query, bounded, order="requested_at")
    return [_request(row) for row in await conn.execute(query)]


async def _decide(
    conn: AsyncConnection, request_id: str, values: dict[str, Any], actor: Actor
) -> DeletionRequest:
    """Move a request still awaiting its decision; a decided one is a conflict."""
    decided = await conn.execute(
        update(deletion_requests)
        .where(
            deletion_requests.c.id == request_id,
            deletion_requests.c.status == DeletionStatus.REQUESTED.value,
        )
        .values(decided_by=actor.label, decided_at=utcnow(), **values)
    )
    after = await get_request(conn, request_id)
    if decided.rowcount != 1:
        raise AlreadyExists(N_("the deletion request is already {status}"), status=after.status)
    await audit.record(
        conn,
        actor,
        f"user.deletion_{after.status}",
        object_kind="user",
        object_id=after.user_id,
        org_id=after.org_id,
        changes={
            "deletion_request": [None, request_id],
            "decision_reason": [None, after.decision_reason],
        },
    )
    return after


async def approve_request(
    conn: AsyncConnection,
    request_id: str,
    *,
    reason: str | None,
    delay: timedelta,
    actor: Actor = SYSTEM,
) -> DeletionRequest:
    """Approve it: the person's data is erased `delay` from now (at most 30 days)."""
    now = utcnow()
    values = {
        "status": DeletionStatus.APPROVED.value,
        "decision_reason": (reason or "").strip() or None,
        "erase_after": now + delay,
    }
    return await _decide(conn, request_id, values, actor)


async def reject_request(
    conn: AsyncConnection, request_id: str, *, reason: str, actor: Actor = SYSTEM
) -> DeletionRequest:
    """Reject it, saying why; the person is told. Their account stays disabled."""
    why = reason.strip()
    if not why:
        raise InvalidInput(N_("a rejection needs a reason the person can read"), param="reason")
    values = {"status": DeletionStatus.REJECTED.value, "decision_reason": why}
    rejected = await _decide(conn, request_id, values, actor)
    await record_notice(
        conn,
        rejected.org_id,
        DELETION_REJECTED,
        {"request_id": request_id, "reason": why},
        user_id=rejected.user_id,
    )
    return rejected
