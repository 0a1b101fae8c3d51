"""The audit log, scoped as `GET /api/audit` scopes it (`audit/services.py`'s
`audit_scope`: operators read every entry, an organization's admins their
organization's, anyone else is refused): filtered by actor, action, object and days,
newest first, a page at a time (keyset on the entry id); the filtered log downloads as
CSV or JSON Lines, oldest first, streamed as `aisonar audit export` streams it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import org_names
from aisonar.audit.models import AuditEntry
from aisonar.audit.services import audit_scope, list_entries
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router
from aisonar.console.visit import Member
from aisonar.errors import AISonarError, InvalidInput
from aisonar.exports.services import ExportFormat, export_audit
from aisonar.i18n import N_
from aisonar.web.deps import Config, Engine
from aisonar.web.downloads import streamed
from aisonar.web.ids import RowId

router = console_router()

AUDIT_PATH = "/console/audit"
EXPORT_PATH = AUDIT_PATH + "/export"
PAGE_FORMATS = (ExportFormat.CSV, ExportFormat.JSONL)
PAGE_SIZE = 50
Text = Annotated[str, Query(max_length=320)]


@dataclass(frozen=True)
class Shown:
    """An entry as the page shows it: each change as text, before and after."""

    entry: AuditEntry
    changes: list[tuple[str, str, str]]


def shown_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def shown(entry: AuditEntry) -> Shown:
    changes = []
    for field, pair in entry.changes.items():
        before, after = ([*pair, None, None])[:2]
        changes.append((field, shown_value(before), shown_value(after)))
    return Shown(entry, changes)


def _day(value: str, param: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("a day is a date, YYYY-MM-DD"), param=param) from None


@dataclass(frozen=True)
class Criteria:
    """The page's filters as the audit log's functions take them."""

    actor: str | None
    action: str | None
    object_kind: str | None
    object_id: str | None
    since: datetime | None
    until: datetime | None

    @classmethod
    def of(cls, typed: dict[str, str]) -> Criteria:
        """The days are UTC, both included."""
        first, last = _day(typed["since"], "since"), _day(typed["until"], "until")
        if first and last and first > last:
            raise InvalidInput(N_("since is after until"), param="since")
        return cls(
            actor=typed["actor"] or None,
            action=typed["action"] or None,
            object_kind=typed["object_kind"] or None,
            object_id=typed["object_id"] or None,
            since=datetime.combine(first, datetime.min.time(), UTC) if first else None,
            until=datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
            if last
            else None,
        )


async def _org_names(conn: AsyncConnection, entries: list[AuditEntry]) -> dict[str, str]:
    """The names of the organizations the entries are about, in one query."""
    return await org_names(conn, {entry.org_id for entry in entries if entry.org_id})


@router.get(AUDIT_PATH)
async def audit_page(
    member: Member,
    db: Engine,
    settings: Config,
    actor: Text = "",
    action: Text = "",
    object_kind: Text = "",
    object_id: Text = "",
    since: Text = "",
    until: Text = "",
    before: Annotated[RowId | None, Query()] = None,
) -> Response:
    scope = audit_scope(member.principal)
    typed = {
        "actor": actor,
        "action": action,
        "object_kind": object_kind,
        "object_id": object_id,
        "since": since,
        "until": until,
    }
    filters = {name: value for name, value in typed.items() if value}
    context: dict[str, Any] = {
        "typed": typed,
        "scoped": scope is not None,
        "entries": [],
        "orgs": {},
        "error": None,
        "next_page": None,
        "first_page": None,
        "exports": (),
        "filters": filters,
        "deciding_deletions": scope is not None and settings.deletion_approval == "org_admin",
    }
    try:
        criteria = Criteria.of(typed)
    except AISonarError as error:
        context["error"] = error_text(error, member.language)
        return page(member, "audit.html", context, status=error.status)
    async with db.connect() as conn:
        entries = await list_entries(
            conn,
            org_id=scope,
            before_id=before,
            limit=PAGE_SIZE + 1,
            **vars(criteria),
        )
        context["orgs"] = await _org_names(conn, entries[:PAGE_SIZE])
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    context["entries"] = [shown(entry) for entry in entries]
    if more:
        context["next_page"] = AUDIT_PATH + "?" + urlencode({**filters, "before": entries[-1].id})
    if before is not None:
        context["first_page"] = AUDIT_PATH + ("?" + urlencode(filters) if filters else "")
    context["exports"] = PAGE_FORMATS
    return page(member, "audit.html", context)


@router.get(EXPORT_PATH)
async def export_audit_log(
    member: Member,
    db: Engine,
    format: ExportFormat = ExportFormat.CSV,
    actor: Text = "",
    action: Text = "",
    object_kind: Text = "",
    object_id: Text = "",
    since: Text = "",
    until: Text = "",
) -> StreamingResponse:
    """The filtered log, every page of it, oldest first, as a download."""
    scope = audit_scope(member.principal)
    criteria = Criteria.of(
        {
            "actor": actor,
            "action": action,
            "object_kind": object_kind,
            "object_id": object_id,
            "since": since,
            "until": until,
        }
    )

    def export(conn: AsyncConnection) -> AsyncIterator[bytes]:
        return export_audit(conn, fmt=format.value, org_id=scope, **vars(criteria))

    return streamed(db, format, "audit", export)
