"""Monthly statements of an organization's balance (`billing/statements.py`): for any
member of it (`/api/me/statements`) and for its admins and operators
(`/api/orgs/{id}/statements`)."""

from __future__ import annotations

from typing import Annotated, Self

from fastapi import APIRouter, Query
from pydantic import BaseModel

from aisonar.accounts.services import administered_org
from aisonar.billing.services import (
    MAX_MONTHS,
    LedgerKind,
    Statement,
    format_amount,
    recent_statements,
)
from aisonar.web.deps import Caller, Engine

router = APIRouter(tags=["money"])

Months = Annotated[int, Query(ge=1, le=MAX_MONTHS, description="How many months back.")]


class StatementOut(BaseModel):
    # YYYY-MM, UTC.
    month: str
    opening: str
    # What recharges, redeemed codes, usage, refunds and adjustments added (usage is
    # negative) within the month.
    recharges: str
    redemptions: str
    usage: str
    refunds: str
    adjustments: str
    closing: str
    entries: int

    @classmethod
    def of(cls, statement: Statement) -> Self:
        kinds = statement.by_kind
        return cls(
            month=statement.month.strftime("%Y-%m"),
            opening=format_amount(statement.opening),
            recharges=format_amount(kinds[LedgerKind.RECHARGE]),
            redemptions=format_amount(kinds[LedgerKind.REDEMPTION]),
            usage=format_amount(kinds[LedgerKind.USAGE]),
            refunds=format_amount(kinds[LedgerKind.REFUND]),
            adjustments=format_amount(kinds[LedgerKind.ADJUSTMENT]),
            closing=format_amount(statement.closing),
            entries=statement.entries,
        )


@router.get("/api/me/statements")
async def my_statements(caller: Caller, db: Engine, months: Months = 12) -> list[StatementOut]:
    """Your organization's monthly statements, this month first: the balance each month
    opened and closed with, and what each kind of entry added or took."""
    async with db.connect() as conn:
        found = await recent_statements(conn, caller.org_id, months)
    return [StatementOut.of(statement) for statement in found]


@router.get("/api/orgs/{org_id}/statements")
async def org_statements(
    caller: Caller, db: Engine, org_id: str, months: Months = 12
) -> list[StatementOut]:
    """The organization's monthly statements, this month first."""
    async with db.connect() as conn:
        await administered_org(conn, caller, org_id)
        found = await recent_statements(conn, org_id, months)
    return [StatementOut.of(statement) for statement in found]
