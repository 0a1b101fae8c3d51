"""The review queue of abuse findings, scoped as `GET /api/abuse/findings` scopes it
(`abuse/services.py`: operators every finding, an organization's admins their
organization's, anyone else is refused): open ones by default, newest first, a page at a
time; each open one dismissed or confirmed (revoking a key finding's key) with the
functions the API's handlers call."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.abuse import services as abuse
from aisonar.abuse.models import Decision, FindingStatus
from aisonar.accounts.services import Page, org_names
from aisonar.console.csrf import checked_form
from aisonar.console.render import page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.web.deps import Engine

router = console_router()

ABUSE_PATH = "/console/abuse"
PAGE_SIZE = 50


def _status(value: str) -> FindingStatus | None:
    if not value:
        return None
    try:
        return FindingStatus(value)
    except ValueError:
        raise InvalidInput(
            N_("the status is open, dismissed or confirmed"), param="status"
        ) from None


@router.get(ABUSE_PATH)
async def findings_page(
    member: Member,
    db: Engine,
    status: Annotated[str, Query(max_length=20)] = FindingStatus.OPEN.value,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Open findings by default; `status=` (empty) lists every one."""
    at = Page(limit=PAGE_SIZE + 1, after=after)
    async with db.connect() as conn:
        found = await abuse.findings_for(conn, member.principal, status=_status(status), page=at)
        orgs = await org_names(conn, {f.org_id for f in found if f.org_id is not None})
    shown = found[:PAGE_SIZE]
    more = len(found) > PAGE_SIZE
    context: dict[str, Any] = {
        "findings": shown,
        "orgs": orgs,
        "status": status,
        "statuses": list(FindingStatus),
        "next_page": (
            ABUSE_PATH + "?" + urlencode({"status": status, "after": shown[-1].id})
            if more
            else None
        ),
        "first_page": ABUSE_PATH + "?" + urlencode({"status": status}) if after else None,
    }
    return page(member, "abuse.html", context)


async def _review(
    request: Request, member: MemberVisit, db: AsyncEngine, finding_id: str, decision: Decision
) -> Response:
    await checked_form(request, member)
    async with db.begin() as conn:
        await abuse.review_for(conn, member.principal, member.actor, finding_id, decision)
    return see_other(ABUSE_PATH)


@router.post(ABUSE_PATH + "/{finding_id}/dismiss")
async def dismiss(request: Request, member: Member, db: Engine, finding_id: str) -> Response:
    return await _review(request, member, db, finding_id, Decision.DISMISS)


@router.post(ABUSE_PATH + "/{finding_id}/confirm")
async def confirm(request: Request, member: Member, db: Engine, finding_id: str) -> Response:
    return await _review(request, member, db, finding_id, Decision.CONFIRM)
