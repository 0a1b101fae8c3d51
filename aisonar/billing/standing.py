"""An organization's balance as it stands: the live figure where this server holds it
(with what in-flight requests hold), else the ledger's, with nothing held."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.billing.ledger import durable_balance
from aisonar.billing.store import BalanceStore, LiveBalance


async def current_balance(engine: AsyncEngine, store: BalanceStore, org_id: str) -> LiveBalance:
    live = await store.live(org_id)
    if live is not None:
        return live
    async with engine.connect() as conn:
        return LiveBalance((await durable_balance(conn, org_id)).balance, 0)
