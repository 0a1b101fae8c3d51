"""`GET /api/audit`: the audit log, all of it for an operator, their organization's part
for an org admin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from aisonar.api import paging
from aisonar.audit.services import audit_scope, list_entries
from aisonar.web.deps import Caller, Engine
from aisonar.web.ids import RowId

router = APIRouter(prefix="/api/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_user_id: str | None
    ip: str | None
    action: str
    object_kind: str
    object_id: str
    org_id: str | None
    # {field: [before, after]}; secrets never appear.
    changes: dict[str, list[Any]]


@router.get("")
async def audit_entries(
    caller: Caller,
    db: Engine,
    request: Request,
    response: Response,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[RowId | None, Query(description="Page back from this entry.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    """Newest first; a full page's `Link` header (`rel="next"`) gives the older entries."""
    org_id = audit_scope(caller)
    async with db.connect() as conn:
        entries = await list_entries(
            conn,
            org_id=org_id,
            action=action,
            since=since,
            until=until,
            before_id=before_id,
            limit=limit,
        )
    shown = paging.back(entries, limit, request, response, lambda entry: entry.id)
    return [AuditEntryOut(**vars(entry)) for entry in shown]
