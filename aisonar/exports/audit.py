"""The audit log streamed out as CSV, JSON Lines or Parquet, oldest first, whatever its
size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import AuditEntry
from aisonar.audit.services import entry_of, narrowed
from aisonar.exports import export_rows
from aisonar.store.tables import audit_log

COLUMNS = [audit_log.c[field] for field in AuditEntry.__dataclass_fields__]


def export_audit(
    conn: AsyncConnection,
    *,
    fmt: str,
    org_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
    object_kind: str | None = None,
    object_id: str | None = None,
) -> AsyncIterator[bytes]:
    query = select(audit_log).order_by(audit_log.c.id)
    query = query.where(
        *narrowed(
            org_id=org_id,
            since=since,
            until=until,
            action=action,
            actor=actor,
            object_kind=object_kind,
            object_id=object_id,
        )
    )
    return export_rows(conn, query, _record, COLUMNS, fmt)


def _record(row: Any) -> dict[str, Any]:
    return asdict(entry_of(row))
