"""The ledger streamed out as CSV, JSON Lines or Parquet, oldest first, whatever its size:
its entries as the table holds them, then each amount as a figure in the operator's
currency (`amount_display`, `balance_after_display`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, String, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.billing.ledger import entry_of
from aisonar.billing.money import format_amount
from aisonar.exports import export_rows
from aisonar.exports.spreadsheet import FIGURE_COLUMN
from aisonar.store.tables import ledger_entries

EXPORT_COLUMNS: tuple[Column[Any], ...] = (
    *ledger_entries.columns,
    Column("amount_display", String, nullable=False, info=FIGURE_COLUMN),
    Column("balance_after_display", String, nullable=False, info=FIGURE_COLUMN),
)


def export_ledger(
    conn: AsyncConnection, org_id: str, *, fmt: str, since: datetime | None = None
) -> AsyncIterator[bytes]:
    conditions = [ledger_entries.c.org_id == org_id]
    if since is not None:
        conditions.append(ledger_entries.c.created_at >= since)
    return export_entries(conn, *conditions, fmt=fmt)


def export_entries(
    conn: AsyncConnection, *conditions: ColumnElement[bool], fmt: str
) -> AsyncIterator[bytes]:
    """The entries meeting every condition, oldest first, streamed."""
    query = select(ledger_entries).where(*conditions).order_by(ledger_entries.c.id)
    return export_rows(conn, query, _record, EXPORT_COLUMNS, fmt)


def _record(row: Any) -> dict[str, Any]:
    entry = entry_of(row)
    return {
        **vars(entry),
        "amount_display": format_amount(entry.amount),
        "balance_after_display": format_amount(entry.balance_after),
    }
