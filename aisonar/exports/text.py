"""CSV and JSON Lines, written as the records arrive, in chunks of about 64 KiB. Times
are ISO 8601; in CSV, a nested value (a list or a mapping) is one cell of JSON, and text
is made safe for spreadsheets (`spreadsheet.py`)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Column, DateTime

from aisonar.exports.spreadsheet import FIGURE_COLUMN, SpreadsheetWriter, figure

_CHUNK_SIZE = 64 * 1024


def _time(value: datetime) -> str:
    return value.isoformat()


def _nested(value: Any) -> Any:
    return orjson.dumps(value).decode() if isinstance(value, list | dict) else value


def _cell_writer(column: Column[Any]) -> Callable[[Any], Any] | None:
    """How a column's values become cells: by its type, so that a row's cells cost one
    check each rather than one per possible kind of value (None: as they are)."""
    if isinstance(column.type, DateTime):
        return _time
    if isinstance(column.type, JSON):
        return _nested
    if column.info == FIGURE_COLUMN:
        return figure
    return None


def _row(record: dict[str, Any], cells: list[tuple[str, Callable[[Any], Any] | None]]) -> list[Any]:
    row = []
    for name, convert in cells:
        value = record[name]
        row.append(value if convert is None or value is None else convert(value))
    return row


def _taken(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


async def encode_csv(
    records: AsyncIterable[dict[str, Any]], columns: Sequence[Column[Any]]
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = SpreadsheetWriter(buffer)
    writer.writerow([column.name for column in columns])
    cells = [(column.name, _cell_writer(column)) for column in columns]
    async for record in records:
        writer.writerow(_row(record, cells))
        if buffer.tell() >= _CHUNK_SIZE:
            yield _taken(buffer)
    if buffer.tell():
        yield _taken(buffer)


async def encode_jsonl(
    records: AsyncIterable[dict[str, Any]], columns: Sequence[Column[Any]]
) -> AsyncIterator[bytes]:
    # orjson writes times as ISO 8601, as datetime.isoformat does.
    buffer = bytearray()
    async for record in records:
        buffer += orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        if len(buffer) >= _CHUNK_SIZE:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
