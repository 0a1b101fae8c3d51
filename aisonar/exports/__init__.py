"""Exports, in one place: the writers, and the sources they write from.

The writers (here, `text`, `parquet`, `spreadsheet`): records streamed out as CSV, JSON
Lines or Parquet, whatever their number: each format is encoded as the records arrive and
handed over in chunks of bytes, never whole. The sources, one module each, read a
domain's rows in order and hand them to `encode_records`: `usage` (usage events),
`ledger` (ledger entries), `audit` (the audit log) and `personal` (the personal data
export's ZIP archive). It owns no tables. It may import the layers below it (`support`,
`observability`, `usage`, `accounts`, `limits`, `billing`, `notify`, `channels`, `audit`
and the base); above it, `web` calls the sources, and `api`, `console` and `cli` call
`services`.

An export names its columns as SQLAlchemy columns (its table's, and detached ones for
the values it derives), so that a format can type them: Parquet's schema follows the
table, and a column added to the table is exported with its type as it is."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.exports.text import encode_csv, encode_jsonl


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PARQUET = "parquet"


# What a download of each format is sent as.
MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv",
    ExportFormat.JSONL: "application/x-ndjson",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
}
_TEXT_ENCODERS = {"csv": encode_csv, "jsonl": encode_jsonl}
EXPORT_FORMATS = tuple(fmt.value for fmt in ExportFormat)
_FETCH_ROWS = 1000


def encode_records(
    records: AsyncIterable[dict[str, Any]], columns: Sequence[Column[Any]], fmt: str
) -> AsyncIterator[bytes]:
    if fmt == "parquet":
        # Importing pyarrow costs a process some 30 MiB and 60 ms: only Parquet exports pay.
        from aisonar.exports.parquet import encode_parquet

        return encode_parquet(records, columns)
    if fmt not in _TEXT_ENCODERS:
        raise ValueError(f"unknown export format {fmt!r}")
    return _TEXT_ENCODERS[fmt](records, columns)


def export_rows(
    conn: AsyncConnection,
    query: Select[Any],
    record: Callable[[Any], dict[str, Any]],
    columns: Sequence[Column[Any]],
    fmt: str,
) -> AsyncIterator[bytes]:
    """A source's query streamed out in `fmt`, each row made a record by `record`."""
    return encode_records(_records(conn, query, record), columns, fmt)


async def _records(
    conn: AsyncConnection, query: Select[Any], record: Callable[[Any], dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    result = await conn.stream(query.execution_options(yield_per=_FETCH_ROWS))
    # A batch of rows per await: one await per row costs a greenlet switch each.
    async for rows in result.partitions():
        for row in rows:
            yield record(row)
