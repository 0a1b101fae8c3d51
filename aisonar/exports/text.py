"""CSV and JSON Lines, written as the records arrive, in chunks of about 64 KiB. Times
are ISO 8601; in CSV, a nested value (a list or a mapping) is one cell of JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Column

_CHUNK_SIZE = 64 * 1024


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return orjson.dumps(value).decode() if isinstance(value, list | dict) else value


def _taken(buffer: io.StringIO) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text.encode()


async def encode_csv(
    records: AsyncIterable[dict[str, Any]], columns: Sequence[Column[Any]]
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[c.name for c in columns], lineterminator="\n")
    writer.writeheader()
    async for record in records:
        writer.writerow({name: _cell(value) for name, value in record.items()})
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
