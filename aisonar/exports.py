"""Records streamed out as CSV or JSON Lines, whatever their number: each format is
written as the records arrive, in chunks of about 64 KiB. In CSV, a nested value (a list
or a mapping) is one cell of JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

import orjson

EXPORT_FORMATS = ("csv", "jsonl")
_CHUNK_CHARS = 64 * 1024


def _cell(value: Any) -> Any:
    return orjson.dumps(value).decode() if isinstance(value, list | dict) else value


async def encode_records(
    records: AsyncIterable[dict[str, Any]], columns: Sequence[str], fmt: str
) -> AsyncIterator[str]:
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    if fmt == "csv":
        writer.writeheader()
    async for record in records:
        if fmt == "jsonl":
            buffer.write(orjson.dumps(record).decode())
            buffer.write("\n")
        else:
            writer.writerow({name: _cell(value) for name, value in record.items()})
        if buffer.tell() >= _CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
