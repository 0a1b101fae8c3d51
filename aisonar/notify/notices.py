"""Notices: events people should hear about, stored until the notification channels
(email, webhooks, the in-app inbox) deliver them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.clock import as_utc, utcnow
from aisonar.store.tables import notices

BALANCE_LOW = "balance_low"
BALANCE_EXHAUSTED = "balance_exhausted"
_LIST_LIMIT = 1000


@dataclass(frozen=True)
class Notice:
    id: int
    org_id: str
    user_id: str | None
    kind: str
    data: dict[str, Any]
    created_at: datetime


async def record_notice(
    conn: AsyncConnection, org_id: str, kind: str, data: dict[str, Any], user_id: str | None = None
) -> None:
    await conn.execute(
        insert(notices).values(
            org_id=org_id, user_id=user_id, kind=kind, data=data, created_at=utcnow()
        )
    )


async def list_notices(conn: AsyncConnection, org_id: str | None = None) -> list[Notice]:
    query = select(notices).order_by(notices.c.id.desc()).limit(_LIST_LIMIT)
    if org_id is not None:
        query = query.where(notices.c.org_id == org_id)
    return [
        Notice(row.id, row.org_id, row.user_id, row.kind, dict(row.data), as_utc(row.created_at))
        for row in await conn.execute(query)
    ]
