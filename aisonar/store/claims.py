"""Claiming a row for one server among several sharing the database: a conditional
UPDATE that sets a mark still unset; only the server whose UPDATE changed the row goes
on with it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, update
from sqlalchemy.ext.asyncio import AsyncConnection


async def claim(
    conn: AsyncConnection, mark: Column[datetime], row_id: object, now: datetime
) -> bool:
    table = mark.table
    claimed = await conn.execute(
        update(table).where(table.c.id == row_id, mark.is_(None)).values({mark.name: now})
    )
    return bool(claimed.rowcount == 1)
