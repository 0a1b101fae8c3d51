"""Recharging an organization's balance, for operators through every front end (the API,
the console; the caller is checked before): one ledger credit, once per idempotency key,
then the live balance, so the credit is spendable on this server at once and on the
others within a second. The values are checked here, with the rules the API's body
follows too."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.audit.models import Actor
from aisonar.billing import ledger
from aisonar.billing.codes import AmountText
from aisonar.billing.ledger import LedgerEntry, LedgerKind, NewEntry
from aisonar.billing.money import parse_amount
from aisonar.billing.store import BalanceStore

# Who the ledger names for a recharge made by an operator (the audit log names them).
OPERATOR_ACTOR = "operator"
NoteText = Annotated[str, Field(max_length=500)]
ReferenceText = Annotated[str, Field(max_length=200)]


@dataclass(frozen=True)
class Recharge:
    amount: AmountText
    note: NoteText = "recharge"
    reference: ReferenceText | None = None
    # The same key twice credits once.
    idempotency_key: ReferenceText | None = None

    @property
    def units(self) -> int:
        return parse_amount(self.amount)


async def recharge_org(
    engine: AsyncEngine, store: BalanceStore, actor: Actor, org_id: str, recharge: Recharge
) -> LedgerEntry:
    entry = NewEntry(
        LedgerKind.RECHARGE,
        recharge.units,
        OPERATOR_ACTOR,
        recharge.note,
        recharge.reference,
        recharge.idempotency_key,
    )
    try:
        async with engine.begin() as conn:
            credited = await ledger.credit(conn, org_id, entry, actor=actor)
    except IntegrityError:
        if entry.idempotency_key is None:
            raise
        # A concurrent recharge with the same key committed first, after this one looked
        # for it: its entry broke the unique index, and this one is answered as its replay.
        async with engine.begin() as conn:
            credited = await ledger.credit(conn, org_id, entry, actor=actor)
    await store.credit(credited.org_id, credited.id, credited.amount)
    return credited
