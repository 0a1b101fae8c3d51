"""An organization's balance as people should see it, in the API's answers and on the
console's pages: the live figure where this server holds it (with what in-flight requests
hold), else the ledger's."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.billing.services import BalanceStore, current_balance, format_amount


class BalanceOut(BaseModel):
    org_id: str
    # The sum of the ledger, what in-flight requests hold, and what is left to spend.
    balance: str
    held: str
    available: str


async def balance_of(engine: AsyncEngine, store: BalanceStore, org_id: str) -> BalanceOut:
    current = await current_balance(engine, store, org_id)
    return BalanceOut(
        org_id=org_id,
        balance=format_amount(current.balance),
        held=format_amount(current.held),
        available=format_amount(current.available),
    )
