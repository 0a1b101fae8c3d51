"""An organization's balance as people should see it, in the API's answers and on the
console's pages: the live figure where this server holds it (with what in-flight requests
hold), else the ledger's."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.billing.ledger import durable_balance
from aisonar.billing.money import format_amount
from aisonar.billing.store import BalanceStore


class BalanceOut(BaseModel):
    org_id: str
    # The sum of the ledger, what in-flight requests hold, and what is left to spend.
    balance: str
    held: str
    available: str


async def balance_of(engine: AsyncEngine, store: BalanceStore, org_id: str) -> BalanceOut:
    live = await store.live(org_id)
    if live is None:
        async with engine.connect() as conn:
            balance, held = (await durable_balance(conn, org_id)).balance, 0
    else:
        balance, held = live.balance, live.held
    return BalanceOut(
        org_id=org_id,
        balance=format_amount(balance),
        held=format_amount(held),
        available=format_amount(balance - held),
    )
