"""The audit log streamed out as CSV or JSON Lines, oldest first, whatever its size."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import AuditEntry
from aisonar.audit.services import entry_of
from aisonar.store.tables import audit_log

EXPORT_FORMATS = ("csv", "jsonl")
COLUMNS = [field for field in AuditEntry.__dataclass_fields__]


async def export_audit(
    conn: AsyncConnection,
    *,
    fmt: str,
    org_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AsyncIterator[str]:
    query = select(audit_log).order_by(audit_log.c.id)
    if org_id is not None:
        query = query.where(audit_log.c.org_id == org_id)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    if fmt == "csv":
        writer.writeheader()
    result = await conn.stream(query.execution_options(yield_per=1000))
    async for row in result:
        entry = entry_of(row)
        record = {**asdict(entry), "at": entry.at.isoformat()}
        if fmt == "jsonl":
            yield orjson.dumps(record).decode() + "\n"
            continue
        writer.writerow({**record, "changes": orjson.dumps(record["changes"]).decode()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if fmt == "csv" and buffer.getvalue():
        yield buffer.getvalue()
