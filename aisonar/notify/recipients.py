"""Whom notices reached: each delivery of the given notices, with the address it went to
(the mailbox's, the endpoint's URL) and how it went. A person's erasure takes their
deliveries with it, so what is read here names only people who still have an account."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.notify.models import DeliveryStatus
from aisonar.store.tables import notice_deliveries, users, webhook_endpoints


@dataclass(frozen=True)
class Reached:
    notice_id: int
    # email or webhook.
    channel: str
    # The email address or the endpoint's URL.
    to: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None


async def reached(conn: AsyncConnection, notice_ids: Collection[int]) -> list[Reached]:
    """The deliveries of these notices, in the order they were made."""
    if not notice_ids:
        return []
    address = func.coalesce(notice_deliveries.c.address, users.c.email, webhook_endpoints.c.url)
    rows = await conn.execute(
        select(
            notice_deliveries.c.notice_id,
            notice_deliveries.c.channel,
            address.label("to"),
            notice_deliveries.c.status,
            notice_deliveries.c.attempts,
            notice_deliveries.c.last_error,
        )
        .select_from(notice_deliveries)
        .outerjoin(users, users.c.id == notice_deliveries.c.user_id)
        .outerjoin(webhook_endpoints, webhook_endpoints.c.id == notice_deliveries.c.endpoint_id)
        .where(notice_deliveries.c.notice_id.in_(sorted(notice_ids)))
        .order_by(notice_deliveries.c.id)
    )
    return [
        Reached(
            row.notice_id,
            row.channel,
            row.to or "",
            DeliveryStatus(row.status),
            row.attempts,
            row.last_error,
        )
        for row in rows
    ]
