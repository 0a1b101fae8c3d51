"""Deletion requests, for whoever decides them exactly as `/api/deletion-requests` says
(`privacy/deciding.py`): operators every one, an organization's admins their members'
when `AISONAR_DELETION_APPROVAL=org_admin`, anyone else is refused. The list (open or
decided, a page at a time), a request's page with the person, the decision and the
receipt of the erasure, and its approval (after the password, when the session has not
proved it recently) or rejection with a reason, through the functions the API's handlers
call: an approval without delay erases the person before the page answers."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from aisonar.accounts import services as accounts
from aisonar.accounts.services import Page, org_names, users_by_id
from aisonar.config import Settings
from aisonar.console.csrf import checked_form
from aisonar.console.reauthentication import confirm_password, password_needed
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.validation import invalid
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput
from aisonar.i18n import N_
from aisonar.privacy.services import (
    Approval,
    DeletionRequest,
    DeletionStatus,
    Rejection,
    approve_deletion_request,
    count_requests,
    decidable,
    decider_scope,
    list_requests,
    reject_deletion_request,
)
from aisonar.web.deps import Config, Engine, Mailer, Services

router = console_router()
_APPROVAL = TypeAdapter(Approval)
_REJECTION = TypeAdapter(Rejection)

DELETIONS_PATH = "/console/operator/deletions"
PAGE_SIZE = 50
_LABELS = {"reason": N_("Reason")}


def request_path(request_id: str, *parts: str) -> str:
    return "/".join((DELETIONS_PATH, request_id, *parts))


def as_domain_error(failure: AISonarError | ValidationError) -> AISonarError:
    """A form's failure as the API would answer it."""
    return invalid(failure, _LABELS) if isinstance(failure, ValidationError) else failure


def _status(value: str) -> DeletionStatus | None:
    if not value:
        return None
    try:
        return DeletionStatus(value)
    except ValueError:
        raise InvalidInput(
            N_("the status is requested, approved, rejected or completed"), param="status"
        ) from None


@router.get(DELETIONS_PATH)
async def deletions_page(
    member: Member,
    db: Engine,
    settings: Config,
    status: Annotated[str, Query(max_length=20)] = DeletionStatus.REQUESTED.value,
    page_number: Annotated[int, Query(alias="page", ge=1, le=1000)] = 1,
) -> Response:
    """Open requests by default; `status=` (empty) lists every one, newest first."""
    scope = decider_scope(member.principal, settings)
    wanted = _status(status)
    at = Page(limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
    async with db.connect() as conn:
        count = await count_requests(conn, org_id=scope, status=wanted)
        shown = await list_requests(conn, org_id=scope, status=wanted, page=at)
        people = await users_by_id(conn, {request.user_id for request in shown})
        orgs = await org_names(conn, {request.org_id for request in shown})

    def page_link(number: int) -> str:
        # `status=` (empty) is kept: it asks for every request.
        return DELETIONS_PATH + "?" + urlencode({"status": status, "page": number})

    context: dict[str, Any] = {
        "requests": shown,
        "people": people,
        "orgs": orgs,
        "status": status,
        "statuses": list(DeletionStatus),
        "previous_page": page_link(page_number - 1) if page_number > 1 else None,
        "next_page": page_link(page_number + 1) if count > page_number * PAGE_SIZE else None,
    }
    return page(member, "operator_deletions.html", context)


async def _request_page(
    member: MemberVisit,
    db: Engine,
    settings: Settings,
    request_id: str,
    *,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    async with db.connect() as conn:
        found: DeletionRequest = await decidable(conn, member.principal, settings, request_id)
        person = (await users_by_id(conn, [found.user_id])).get(found.user_id)
        org = await accounts.get_org(conn, found.org_id)
    context: dict[str, Any] = {
        "request": found,
        "person": person,
        "org": org,
        "typed": typed or {"approve_reason": "", "reject_reason": ""},
        "error": error,
        "password_needed": password_needed(member),
        "delay_hours": settings.deletion_erasure_delay_hours,
    }
    return page(member, "operator_deletion.html", context, status=status)


@router.get(DELETIONS_PATH + "/{request_id}")
async def request_page(member: Member, db: Engine, settings: Config, request_id: str) -> Response:
    return await _request_page(member, db, settings, request_id)


@router.post(DELETIONS_PATH + "/{request_id}/approve")
async def approve(
    request: Request,
    member: Member,
    running: Services,
    settings: Config,
    mailer: Mailer,
    request_id: str,
) -> Response:
    form = await checked_form(request, member)
    typed = {"approve_reason": form.text("reason"), "reject_reason": ""}
    try:
        approval = _APPROVAL.validate_python({"reason": typed["approve_reason"] or None})
        await confirm_password(request, member, form)
        await approve_deletion_request(
            running.engine,
            mailer,
            member.principal,
            member.actor,
            settings,
            request_id,
            approval,
        )
    except (AISonarError, ValidationError) as failure:
        error = as_domain_error(failure)
        message = error_text(error, member.language)
        return await _request_page(
            member,
            running.engine,
            settings,
            request_id,
            typed=typed,
            error=message,
            status=error.status,
        )
    return see_other(request_path(request_id))


@router.post(DELETIONS_PATH + "/{request_id}/reject")
async def reject(
    request: Request, member: Member, db: Engine, settings: Config, request_id: str
) -> Response:
    form = await checked_form(request, member)
    typed = {"approve_reason": "", "reject_reason": form.text("reason")}
    try:
        rejection = _REJECTION.validate_python({"reason": typed["reject_reason"]})
        async with db.begin() as conn:
            await reject_deletion_request(
                conn, member.principal, member.actor, settings, request_id, rejection
            )
    except (AISonarError, ValidationError) as failure:
        error = as_domain_error(failure)
        message = error_text(error, member.language)
        return await _request_page(
            member, db, settings, request_id, typed=typed, error=message, status=error.status
        )
    return see_other(request_path(request_id))
