"""The append-only ledger. Every append moves `organizations.balance` in the same
transaction, first with an UPDATE ... RETURNING: that write takes the row lock (or
SQLite's write lock) before anything is read, so concurrent appends from several
processes serialize per organization and never read a stale balance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.billing.alerts import balance_alerts
from aisonar.billing.money import format_amount
from aisonar.billing.store import DurableBalance
from aisonar.clock import as_utc, utcnow
from aisonar.errors import NotFound
from aisonar.i18n import N_
from aisonar.notify.notices import RECHARGE_RECEIVED, record_notice
from aisonar.store.changes import record_change
from aisonar.store.tables import ledger_entries, organizations

LEDGER_ENTITY = "ledger_entry"


class LedgerKind(StrEnum):
    RECHARGE = "recharge"
    REDEMPTION = "redemption"
    USAGE = "usage"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


@dataclass(frozen=True, slots=True)
class NewEntry:
    kind: LedgerKind
    amount: int
    actor: str
    reason: str
    reference: str | None = None
    idempotency_key: str | None = None
    request_id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    org_id: str
    kind: str
    amount: int
    balance_after: int
    actor: str
    reason: str
    reference: str | None
    idempotency_key: str | None
    request_id: str | None
    created_at: datetime


def entry_of(row: Any) -> LedgerEntry:
    """A row of ledger_entries as an entry."""
    return LedgerEntry(**{**row._asdict(), "created_at": as_utc(row.created_at)})


async def append(conn: AsyncConnection, org_id: str, entries: Sequence[NewEntry]) -> int:
    """Append entries for one organization; returns its new balance."""
    delta = sum(entry.amount for entry in entries)
    moved = (
        await conn.execute(
            update(organizations)
            .where(organizations.c.id == org_id)
            .values(balance=organizations.c.balance + delta)
            .returning(organizations.c.balance, organizations.c.low_balance_threshold)
        )
    ).first()
    if moved is None:
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    balance = int(moved.balance)
    for kind, data in balance_alerts(balance - delta, balance, int(moved.low_balance_threshold)):
        await record_notice(conn, org_id, kind, data)
    running = balance - delta
    rows = []
    now = utcnow()
    for entry in entries:
        running += entry.amount
        rows.append(
            {
                "org_id": org_id,
                "kind": entry.kind.value,
                "amount": entry.amount,
                "balance_after": running,
                "actor": entry.actor,
                "reason": entry.reason,
                "reference": entry.reference,
                "idempotency_key": entry.idempotency_key,
                "request_id": entry.request_id,
                "created_at": entry.created_at or now,
            }
        )
    await conn.execute(insert(ledger_entries), rows)
    return balance


async def credit(
    conn: AsyncConnection, org_id: str, entry: NewEntry, *, actor: Actor = SYSTEM
) -> LedgerEntry:
    """Append one credit-like entry (idempotent on its key) and tell every server."""
    if entry.idempotency_key is not None:
        existing = await _by_idempotency_key(conn, org_id, entry.idempotency_key)
        if existing is not None:
            return existing
    await append(conn, org_id, [entry])
    row = (
        await conn.execute(
            select(ledger_entries)
            .where(ledger_entries.c.org_id == org_id)
            .order_by(ledger_entries.c.id.desc())
            .limit(1)
        )
    ).one()
    await record_change(conn, LEDGER_ENTITY, str(row.id))
    await audit.record(
        conn,
        actor,
        f"balance.{entry.kind}",
        object_kind="ledger_entry",
        object_id=str(row.id),
        org_id=org_id,
        changes=audit.created(
            {
                "amount": format_amount(entry.amount),
                "reason": entry.reason,
                "reference": entry.reference,
            }
        ),
    )
    if entry.amount > 0:
        await record_notice(
            conn,
            org_id,
            RECHARGE_RECEIVED,
            {
                "amount": format_amount(entry.amount),
                "balance": format_amount(row.balance_after),
                "kind": str(entry.kind),
            },
        )
    return entry_of(row)


async def _by_idempotency_key(conn: AsyncConnection, org_id: str, key: str) -> LedgerEntry | None:
    row = (
        await conn.execute(
            select(ledger_entries).where(
                ledger_entries.c.org_id == org_id, ledger_entries.c.idempotency_key == key
            )
        )
    ).first()
    return None if row is None else entry_of(row)


async def entry_by_id(conn: AsyncConnection, entry_id: int) -> LedgerEntry | None:
    row = (
        await conn.execute(select(ledger_entries).where(ledger_entries.c.id == entry_id))
    ).first()
    return None if row is None else entry_of(row)


async def durable_balance(conn: AsyncConnection, org_id: str) -> DurableBalance:
    row = (
        await conn.execute(
            select(
                organizations.c.balance,
                select(func.coalesce(func.max(ledger_entries.c.id), 0))
                .where(ledger_entries.c.org_id == org_id)
                .scalar_subquery(),
            ).where(organizations.c.id == org_id)
        )
    ).first()
    if row is None:
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    return DurableBalance(balance=int(row[0]), through_entry=int(row[1]))


async def ledger_sum(conn: AsyncConnection, org_id: str) -> int:
    total = await conn.execute(
        select(func.coalesce(func.sum(ledger_entries.c.amount), 0)).where(
            ledger_entries.c.org_id == org_id
        )
    )
    return int(total.scalar_one())


async def set_low_balance_threshold(
    conn: AsyncConnection, org_id: str, threshold: int, *, actor: Actor = SYSTEM
) -> None:
    """The balance falling below `threshold` emits a `balance_low` notice; 0 never does."""
    mine = organizations.c.id == org_id
    before = (
        await conn.execute(select(organizations.c.low_balance_threshold).where(mine))
    ).scalar_one_or_none()
    if before is None:
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    await conn.execute(update(organizations).where(mine).values(low_balance_threshold=threshold))
    await audit.record(
        conn,
        actor,
        "org.update",
        object_kind="org",
        object_id=org_id,
        org_id=org_id,
        changes=audit.changed(
            {"low_balance_threshold": format_amount(before)},
            {"low_balance_threshold": format_amount(threshold)},
        ),
    )


async def recent_entries(
    conn: AsyncConnection, org_id: str, *, before_id: int | None = None, limit: int = 50
) -> list[LedgerEntry]:
    """The organization's entries, newest first, a page at a time: those before
    `before_id` (the last id of the page before), at most `limit`."""
    query = (
        select(ledger_entries)
        .where(ledger_entries.c.org_id == org_id)
        .order_by(ledger_entries.c.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(ledger_entries.c.id < before_id)
    return [entry_of(row) for row in await conn.execute(query)]
