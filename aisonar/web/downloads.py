"""Streamed downloads: usage and the ledger as CSV, JSON Lines or Parquet, read from the
database while they are sent, so their size does not matter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.exports.services import MEDIA_TYPES, ExportFormat, export_ledger, export_usage

Export = Callable[[AsyncConnection], AsyncIterator[bytes]]


def streamed(
    engine: AsyncEngine, fmt: ExportFormat, filename: str, export: Export
) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async with engine.connect() as conn:
            async for chunk in export(conn):
                yield chunk

    return StreamingResponse(
        body(),
        media_type=MEDIA_TYPES[fmt],
        headers={"content-disposition": f'attachment; filename="{filename}.{fmt.value}"'},
    )


def usage_export(
    engine: AsyncEngine,
    fmt: ExportFormat,
    *,
    org_id: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    requested_model: str | None = None,
    status_class: str | None = None,
    end_user: str | None = None,
    session_id: str | None = None,
) -> StreamingResponse:
    def export(conn: AsyncConnection) -> AsyncIterator[bytes]:
        return export_usage(
            conn,
            fmt=fmt.value,
            org_id=org_id,
            user_id=user_id,
            since=since,
            until=until,
            requested_model=requested_model,
            status_class=status_class,
            end_user=end_user,
            session_id=session_id,
        )

    return streamed(engine, fmt, "usage", export)


def ledger_export(
    engine: AsyncEngine, fmt: ExportFormat, org_id: str, since: datetime | None
) -> StreamingResponse:
    def export(conn: AsyncConnection) -> AsyncIterator[bytes]:
        return export_ledger(conn, org_id, fmt=fmt.value, since=since)

    return streamed(engine, fmt, "ledger", export)
