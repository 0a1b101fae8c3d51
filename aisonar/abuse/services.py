"""Findings as the front ends reach them: an operator every one, an organization's admins
their organization's (another's is unknown to them), anyone else none. A review
dismisses a finding (the use was legitimate) or confirms it, which revokes a key
finding's key; either is audited, and a finding is reviewed once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.abuse.detection import Floors, detect
from aisonar.abuse.findings import get_finding, list_findings, set_reviewed
from aisonar.abuse.models import (
    AlreadyReviewed,
    Decision,
    Finding,
    FindingKind,
    FindingStatus,
    SubjectKind,
)
from aisonar.accounts.listing import EVERY, Page
from aisonar.accounts.principal import Principal
from aisonar.accounts.services import administered_org, get_key, revoke_key
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.errors import Forbidden, NotFound
from aisonar.i18n import N_

__all__ = [
    "detect_now",
    "findings_for",
    "get_finding",
    "list_findings",
    "review",
    "review_for",
    "reviewable",
]

_OUTCOME = {Decision.DISMISS: FindingStatus.DISMISSED, Decision.CONFIRM: FindingStatus.CONFIRMED}


async def findings_for(
    conn: AsyncConnection,
    caller: Principal,
    *,
    org_id: str | None = None,
    status: FindingStatus | None = None,
    kind: FindingKind | None = None,
    page: Page = EVERY,
) -> list[Finding]:
    """An operator's: every finding, or one organization's; an admin's: their
    organization's (naming another is refused as an unknown organization)."""
    if not caller.is_operator:
        await administered_org(conn, caller, org_id or caller.org_id)
        org_id = caller.org_id
    return await list_findings(conn, org_id=org_id, status=status, kind=kind, page=page)


async def reviewable(conn: AsyncConnection, caller: Principal, finding_id: str) -> Finding:
    """The finding, if the caller may see and review it."""
    finding = await get_finding(conn, finding_id)
    if caller.is_operator:
        return finding
    if finding.org_id is not None and caller.administers(finding.org_id):
        return finding
    if finding.org_id is not None and finding.org_id == caller.org_id:
        raise Forbidden(N_("Only the organization's admins may do this."))
    raise NotFound(N_("no finding with id {finding_id!r}"), finding_id=finding_id)


async def review(
    conn: AsyncConnection, finding_id: str, decision: Decision, actor: Actor
) -> Finding:
    """Dismiss or confirm an open finding; confirming a key finding revokes the key
    (unless it is revoked already)."""
    finding = await get_finding(conn, finding_id)
    reviewed = await set_reviewed(conn, finding, _OUTCOME[decision], actor)
    if reviewed is None:
        raise AlreadyReviewed(finding.id, (await get_finding(conn, finding_id)).status)
    await audit.record(
        conn,
        actor,
        f"abuse.{decision.value}",
        object_kind="abuse_finding",
        object_id=finding.id,
        org_id=finding.org_id,
        changes=audit.changed({"status": finding.status.value}, {"status": reviewed.status.value}),
    )
    if decision is Decision.CONFIRM and finding.subject_kind is SubjectKind.KEY:
        key = await get_key(conn, finding.subject_id)
        if key.revoked_at is None:
            await revoke_key(conn, key.id, actor=actor)
    return reviewed


async def review_for(
    conn: AsyncConnection, caller: Principal, actor: Actor, finding_id: str, decision: Decision
) -> Finding:
    await reviewable(conn, caller, finding_id)
    return await review(conn, finding_id, decision, actor)


async def detect_now(engine: AsyncEngine, settings: Settings) -> list[Finding]:
    """One detection round now, as each server runs every interval (without the refused
    keys servers have counted but not flushed yet)."""
    return await detect(engine, utcnow(), Floors.of(settings))
