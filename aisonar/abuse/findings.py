"""Findings in the database: recorded once per kind, subject and window however many
servers detect them (the `dedupe` column is unique), audited, and told to the subject's
people: the key's owner and their organization's admins. Listed newest first."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.abuse.models import Finding, FindingKind, FindingStatus, Signal, SubjectKind
from aisonar.accounts.listing import EVERY, Page, paged
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.errors import NotFound
from aisonar.i18n import N_
from aisonar.notify.notices import ABUSE_FINDING, record_notice
from aisonar.store.tables import abuse_findings

_LIST_LIMIT = 1000


def _finding(row: Any) -> Finding:
    return Finding(
        id=row.id,
        kind=FindingKind(row.kind),
        org_id=row.org_id,
        user_id=row.user_id,
        subject_kind=SubjectKind(row.subject_kind),
        subject_id=row.subject_id,
        evidence=dict(row.evidence),
        detected_at=as_utc(row.detected_at),
        status=FindingStatus(row.status),
        reviewed_at=None if row.reviewed_at is None else as_utc(row.reviewed_at),
        reviewed_by=row.reviewed_by,
    )


def _dedupe(signal: Signal) -> str:
    return f"{signal.kind.value}|{signal.subject_id}|{signal.window_start.isoformat()}"


async def _open_one_exists(conn: AsyncConnection, signal: Signal) -> bool:
    query = select(abuse_findings.c.id).where(
        abuse_findings.c.kind == signal.kind.value,
        abuse_findings.c.subject_id == signal.subject_id,
        abuse_findings.c.status == FindingStatus.OPEN.value,
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def record_finding(conn: AsyncConnection, signal: Signal) -> Finding | None:
    """The new finding, or None when the subject has one open of that kind already, or
    this window's was recorded (by this server or another)."""
    if await _open_one_exists(conn, signal):
        return None
    finding_id, now = new_id("abf"), utcnow()
    values = {
        "id": finding_id,
        "kind": signal.kind.value,
        "org_id": signal.org_id,
        "user_id": signal.user_id,
        "subject_kind": signal.subject_kind.value,
        "subject_id": signal.subject_id,
        "evidence": signal.evidence,
        "detected_at": now,
        "dedupe": _dedupe(signal),
        "status": FindingStatus.OPEN.value,
    }
    try:
        async with conn.begin_nested():
            await conn.execute(abuse_findings.insert().values(**values))
    except IntegrityError:
        return None
    finding = Finding(
        id=finding_id,
        kind=signal.kind,
        org_id=signal.org_id,
        user_id=signal.user_id,
        subject_kind=signal.subject_kind,
        subject_id=signal.subject_id,
        evidence=signal.evidence,
        detected_at=now,
        status=FindingStatus.OPEN,
        reviewed_at=None,
        reviewed_by=None,
    )
    await audit.record(
        conn,
        SYSTEM,
        "abuse.finding",
        object_kind="abuse_finding",
        object_id=finding.id,
        org_id=finding.org_id,
        changes=audit.created(_audited(finding)),
    )
    if finding.org_id is not None:
        await _tell(conn, finding)
    return finding


def _audited(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind.value,
        "subject": f"{finding.subject_kind.value} {finding.subject_id}",
        "evidence": finding.evidence,
    }


async def _tell(conn: AsyncConnection, finding: Finding) -> None:
    """The organization's admins, and the key's owner, by their chosen channels."""
    assert finding.org_id is not None
    data = {
        "finding_id": finding.id,
        "kind": finding.kind.value,
        "subject_kind": finding.subject_kind.value,
        "subject_id": finding.subject_id,
        "evidence": finding.evidence,
    }
    await record_notice(conn, finding.org_id, ABUSE_FINDING, data)
    if finding.user_id is not None:
        await record_notice(conn, finding.org_id, ABUSE_FINDING, data, user_id=finding.user_id)


async def get_finding(conn: AsyncConnection, finding_id: str) -> Finding:
    row = (
        await conn.execute(select(abuse_findings).where(abuse_findings.c.id == finding_id))
    ).first()
    if row is None:
        raise NotFound(N_("no finding with id {finding_id!r}"), finding_id=finding_id)
    return _finding(row)


async def list_findings(
    conn: AsyncConnection,
    *,
    org_id: str | None = None,
    status: FindingStatus | None = None,
    kind: FindingKind | None = None,
    page: Page = EVERY,
) -> list[Finding]:
    """Newest first (keyset on detection, then id), at most 1,000 from the page's start:
    one organization's, or every one; one status or kind only, when given."""
    narrowed: list[ColumnElement[bool]] = []
    if org_id is not None:
        narrowed.append(abuse_findings.c.org_id == org_id)
    if status is not None:
        narrowed.append(abuse_findings.c.status == status.value)
    if kind is not None:
        narrowed.append(abuse_findings.c.kind == kind.value)
    bounded = replace(
        page, limit=min(page.limit or _LIST_LIMIT, _LIST_LIMIT + 1), newest_first=True
    )
    query = select(abuse_findings).where(*narrowed)
    listed = await paged(conn, abuse_findings, query, bounded, order="detected_at")
    return [_finding(row) for row in await conn.execute(listed)]


async def set_reviewed(
    conn: AsyncConnection, finding: Finding, status: FindingStatus, actor: Actor
) -> Finding | None:
    """The finding as reviewed, or None when another review got there first."""
    now = utcnow()
    changed = await conn.execute(
        update(abuse_findings)
        .where(
            abuse_findings.c.id == finding.id,
            abuse_findings.c.status == FindingStatus.OPEN.value,
        )
        .values(status=status.value, reviewed_at=now, reviewed_by=actor.label)
    )
    if changed.rowcount == 0:
        return None
    return replace(finding, status=status, reviewed_at=now, reviewed_by=actor.label)
