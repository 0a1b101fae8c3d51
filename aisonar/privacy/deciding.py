"""Deciding account deletion requests, for every front end (the API, the console):
operators decide every request, and an organization's admins their organization's when
`AISONAR_DELETION_APPROVAL=org_admin`; a request the caller does not decide is NotFound.
An approval without delay erases the person before it returns. The reasons are checked
here, with the rules the API's bodies follow too."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass
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
    NotYoursToDecide,
    approve_request,
    get_request,
    may_decide,
    reject_request,
)

ReasonText = Annotated[str, Field(max_length=500)]


@dataclass(frozen=True)
class Approval:
    reason: ReasonText | None = None


@dataclass(frozen=True)
class Rejection:
    # Told to the person.
    reason: Annotated[ReasonText, Field(min_length=1)]


def decider_scope(caller: Principal, settings: Settings) -> str | None:
    """The organization whose requests the caller decides (None: every one)."""
    if caller.is_operator:
        return None
    if not may_decide(caller, caller.org_id, settings.deletion_approval):
        raise NotYoursToDecide(N_("Only an operator decides deletion requests here."))
    return caller.org_id


async def decidable(
    conn: AsyncConnection, caller: Principal, settings: Settings, request_id: str
) -> DeletionRequest:
    """The request, if the caller decides it."""
    scope = decider_scope(caller, settings)
    try:
        found = await get_request(conn, request_id)
    except NotFound:
        found = None
    if found is None or scope not in (None, found.org_id):
        raise NotFound(N_("no deletion request with id {request_id!r}"), request_id=request_id)
    return found


async def approve_deletion_request(
    engine: AsyncEngine,
    mailer: Mail | None,
    caller: Principal,
    actor: Actor,
    settings: Settings,
    request_id: str,
    approval: Approval,
) -> DeletionRequest:
    """Approve the request if the caller decides it: the person's data is erased after
    `AISONAR_DELETION_ERASURE_DELAY_HOURS`, at once (before this returns) when none."""
    delay = timedelta(hours=settings.deletion_erasure_delay_hours)
    async with engine.begin() as conn:
        await decidable(conn, caller, settings, request_id)
        approved = await approve_request(
            conn, request_id, reason=approval.reason, delay=delay, actor=actor
        )
    if not delay:
        await erase_request(engine, mailer, request_id)
        async with engine.connect() as conn:
            approved = await get_request(conn, request_id)
    return approved


async def reject_deletion_request(
    conn: AsyncConnection,
    caller: Principal,
    actor: Actor,
    settings: Settings,
    request_id: str,
    rejection: Rejection,
) -> DeletionRequest:
    """Reject the request if the caller decides it, with a reason the person is told."""
    await decidable(conn, caller, settings, request_id)
    return await reject_request(conn, request_id, reason=rejection.reason, actor=actor)
