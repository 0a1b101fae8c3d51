"""Abuse findings (`abuse/services.py` decides who may): operators list and review every
one, an organization's admins their organization's; a dismissal says the use was
legitimate, a confirmation revokes a key finding's key. Both audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from aisonar.abuse import services as abuse
from aisonar.abuse.models import Decision, Finding, FindingKind, FindingStatus, SubjectKind
from aisonar.api import paging
from aisonar.api.paging import After, Limit
from aisonar.web.deps import Acting, Caller, Engine

router = APIRouter(tags=["abuse"])
PATH = "/api/abuse/findings"


class FindingOut(BaseModel):
    id: str
    kind: FindingKind
    # Null for an address no organization owns (a key scan, a stuffing run).
    org_id: str | None
    # The key's owner, for a key finding.
    user_id: str | None
    subject_kind: SubjectKind
    # The key's id, or the client address.
    subject_id: str
    # The figures that made it fire (docs/abuse.md names them per kind).
    evidence: dict[str, Any]
    detected_at: datetime
    status: FindingStatus
    reviewed_at: datetime | None
    reviewed_by: str | None

    @classmethod
    def of(cls, finding: Finding) -> FindingOut:
        return cls(**vars(finding))


def _id(finding: Finding) -> str:
    return finding.id


@router.get(PATH)
async def list_findings(
    caller: Caller,
    db: Engine,
    response: Response,
    org_id: str | None = None,
    status: FindingStatus | None = None,
    kind: FindingKind | None = None,
    after: After = None,
    limit: Limit = None,
) -> list[FindingOut]:
    """Findings, newest first: an operator's every one (or `org_id`'s), an admin's their
    organization's; `status` and `kind` narrow them; `?after=<id>&limit=N` pages them, the
    next page's address in the `Link` header (`rel="next"`)."""
    async with db.connect() as conn:
        found = await abuse.findings_for(
            conn, caller, org_id=org_id, status=status, kind=kind, page=paging.page(after, limit)
        )
    return [FindingOut.of(one) for one in paging.cut(found, limit, response, PATH, _id)]


@router.get(PATH + "/{finding_id}")
async def get_finding(caller: Caller, db: Engine, finding_id: str) -> FindingOut:
    async with db.connect() as conn:
        return FindingOut.of(await abuse.reviewable(conn, caller, finding_id))


@router.post(PATH + "/{finding_id}/dismiss")
async def dismiss_finding(caller: Caller, actor: Acting, db: Engine, finding_id: str) -> FindingOut:
    """The use was legitimate: the finding is closed, the key left as it is."""
    async with db.begin() as conn:
        found = await abuse.review_for(conn, caller, actor, finding_id, Decision.DISMISS)
    return FindingOut.of(found)


@router.post(PATH + "/{finding_id}/confirm")
async def confirm_finding(caller: Caller, actor: Acting, db: Engine, finding_id: str) -> FindingOut:
    """Abuse it was: the finding is closed and a key finding's key revoked (its owner is
    told, as with any revocation)."""
    async with db.begin() as conn:
        found = await abuse.review_for(conn, caller, actor, finding_id, Decision.CONFIRM)
    return FindingOut.of(found)
