"""Numbered ids in queries and bodies, checked at the boundary: a number past what the
id's column holds is refused as invalid input (400), never handed to the database, which
fails on it (PostgreSQL's 32-bit `integer`, SQLite's 64-bit one)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

# The store's numbered ids are `integer`, 32-bit on PostgreSQL; the ledger's are 64-bit.
MAX_ROW_ID = 2**31 - 1
MAX_LEDGER_ENTRY_ID = 2**63 - 1

# 0 is below every id: as a bound it means none (nothing before it, none read).
RowId = Annotated[int, Field(ge=0, le=MAX_ROW_ID)]
LedgerEntryId = Annotated[int, Field(ge=0, le=MAX_LEDGER_ENTRY_ID)]


def written_id(text: str, largest: int = MAX_ROW_ID) -> int | None:
    """The id `text` writes in ASCII digits, or None if it is not one (or past `largest`).
    For ids read by hand from a form or a query; `str.isdigit` alone takes "²"."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(largest)):
        return None
    number = int(text)
    return number if number <= largest else None
