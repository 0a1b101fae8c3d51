"""The change log every server polls to keep its caches fresh across processes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.clock import utcnow
from aisonar.store.tables import change_log

KEEP_CHANGES_FOR = timedelta(days=1)
# Cached key identities, with the limits and markups they carry: a change to any of them
# has every server reload its keys.
KEY_ENTITY = "api_key"


async def record_change(conn: AsyncConnection, entity: str, entity_id: str) -> None:
    await conn.execute(
        insert(change_log).values(entity=entity, entity_id=entity_id, created_at=utcnow())
    )


async def latest_change_id(conn: AsyncConnection) -> int:
    return int(
        (await conn.execute(select(func.coalesce(func.max(change_log.c.id), 0)))).scalar_one()
    )


async def changes_since(conn: AsyncConnection, last_id: int) -> list[tuple[int, str, str]]:
    rows = await conn.execute(
        select(change_log.c.id, change_log.c.entity, change_log.c.entity_id)
        .where(change_log.c.id > last_id)
        .order_by(change_log.c.id)
    )
    return [(row.id, row.entity, row.entity_id) for row in rows]


async def prune_changes(conn: AsyncConnection) -> None:
    await conn.execute(
        delete(change_log).where(change_log.c.created_at < utcnow() - KEEP_CHANGES_FOR)
    )
