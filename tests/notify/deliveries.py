"""Reading what the notifier did with a person's notices, straight from the database."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.store.tables import notice_deliveries, notices

_WAIT_S = 30.0


async def deliveries_of(engine: AsyncEngine, org_id: str, kind: str) -> list[Any]:
    """The deliveries of the organization's notices of this kind, once they are all
    dispatched."""
    deadline = asyncio.get_running_loop().time() + _WAIT_S
    while True:
        async with engine.connect() as conn:
            found = list(
                await conn.execute(
                    select(notices.c.id, notices.c.dispatched_at).where(
                        notices.c.org_id == org_id, notices.c.kind == kind
                    )
                )
            )
            if found and all(row.dispatched_at is not None for row in found):
                return list(
                    await conn.execute(
                        select(notice_deliveries).where(
                            notice_deliveries.c.notice_id.in_([row.id for row in found])
                        )
                    )
                )
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no dispatched {kind} notice for {org_id}")
        await asyncio.sleep(0.02)


async def settled(engine: AsyncEngine, org_id: str, kind: str) -> list[Any]:
    """The deliveries, once none is pending any more."""
    deadline = asyncio.get_running_loop().time() + _WAIT_S
    while True:
        found = await deliveries_of(engine, org_id, kind)
        if all(row.status != "pending" for row in found):
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{kind} deliveries still pending")
        await asyncio.sleep(0.02)
