"""The parts of a personal data export: each is one file of the archive, says what it
holds, from which tables, and describes every field it writes (the archive's README is
made of these descriptions)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.models import User

Record = dict[str, Any]
Document = Record | list[Record]


@dataclass(frozen=True)
class Exported:
    """Whose data, and whether the export may hold what only they and the operators
    read (support conversations): not when an organization admin exports a member."""

    person: User
    confidential: bool


Gather = Callable[[AsyncConnection, Exported], Awaitable[Document]]


@dataclass(frozen=True)
class DocumentPart:
    """A JSON document, gathered whole: a record, or a list of records."""

    file: str
    description: str
    # The tables whose rows (the person's) it holds.
    tables: tuple[Table, ...]
    # Each field of the records, and what it means.
    fields: Mapping[str, str]
    gather: Gather
    # Tables read only to find those rows.
    consults: tuple[Table, ...] = ()
    # Left out unless the export is confidential (see Exported).
    confidential: bool = False


@dataclass(frozen=True)
class TablePart:
    """CSV with a header row, streamed as it is read: parts that may run to millions
    of rows."""

    file: str
    description: str
    tables: tuple[Table, ...]
    # The columns, in order, and what each means.
    fields: Mapping[str, str]
    stream: Callable[[AsyncConnection, Exported], AsyncIterator[bytes]]
    consults: tuple[Table, ...] = ()
    confidential: bool = False


Part = DocumentPart | TablePart
