"""Monthly statements of an organization's prepaid balance, from its ledger: the
balance the month opened and closed with (the `balance_after` of the last entry before
each bound) and what each kind of entry added or took within it. Opening plus the
month's entries is the closing balance, as the append-only ledger guarantees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.billing.ledger import LedgerKind
from aisonar.clock import as_utc, utcnow
from aisonar.store.tables import ledger_entries

# At most this many months in one answer.
MAX_MONTHS = 36


@dataclass(frozen=True)
class Statement:
    # The month's first day.
    month: date
    # Micro-units.
    opening: int
    closing: int
    # What each kind of entry added (negative: took) within the month.
    by_kind: dict[LedgerKind, int]
    entries: int


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


async def _balance_before(conn: AsyncConnection, org_id: str, moment: datetime) -> int:
    entries = ledger_entries.c
    found = await conn.scalar(
        select(entries.balance_after)
        .where(entries.org_id == org_id, entries.created_at < moment)
        .order_by(entries.id.desc())
        .limit(1)
    )
    return int(found or 0)


async def monthly_statement(conn: AsyncConnection, org_id: str, month: date) -> Statement:
    """The statement of the month (any day of it names it)."""
    first = month.replace(day=1)
    start, end = month_start(first), month_start(next_month(first))
    entries = ledger_entries.c
    sums = await conn.execute(
        select(entries.kind, func.sum(entries.amount), func.count())
        .where(entries.org_id == org_id, entries.created_at >= start, entries.created_at < end)
        .group_by(entries.kind)
    )
    by_kind = dict.fromkeys(LedgerKind, 0)
    count = 0
    for kind, total, number in sums:
        by_kind[LedgerKind(kind)] = int(total)
        count += int(number)
    return Statement(
        month=first,
        opening=await _balance_before(conn, org_id, start),
        closing=await _balance_before(conn, org_id, end),
        by_kind=by_kind,
        entries=count,
    )


async def recent_statements(
    conn: AsyncConnection, org_id: str, months: int = 12
) -> list[Statement]:
    """The statements of this month and the ones before, newest first, back to the
    month of the organization's first entry (at most `months`, up to MAX_MONTHS)."""
    first_entry = await conn.scalar(
        select(func.min(ledger_entries.c.created_at)).where(ledger_entries.c.org_id == org_id)
    )
    if first_entry is None:
        return []
    earliest = as_utc(first_entry).date().replace(day=1)
    month = utcnow().date().replace(day=1)
    found: list[Statement] = []
    while month >= earliest and len(found) < min(months, MAX_MONTHS):
        found.append(await monthly_statement(conn, org_id, month))
        month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    return found
