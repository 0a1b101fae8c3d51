"""Parquet, streamed: the records are written one row group of `ROWS_PER_GROUP` at a time,
each group's bytes handed over once it is written, then the footer; the file is never
held whole.

The schema is typed from the export's SQLAlchemy columns: strings, 32- and 64-bit
integers, booleans, floats, UTC timestamps in microseconds, and JSON as strings holding
JSON. Money stays integer micro-units, as in CSV and JSON Lines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import JSON, BigInteger, Boolean, Column, DateTime, Float, Integer, String
from sqlalchemy.types import TypeEngine

# About 1 MB compressed for usage events; the export's memory grows with it (some 40 MiB
# at 25,000 rows, 70 at 50,000), never with the number of rows exported.
ROWS_PER_GROUP = 25_000
# Records become Arrow columns this many at a time: a row group waits to be written as
# compact Arrow arrays, not as Python dictionaries.
_SLICE_ROWS = 1_000

# The first match wins, so a subclass comes before its base (BigInteger before Integer).
_ARROW_TYPES: tuple[tuple[type[TypeEngine[Any]], pa.DataType], ...] = (
    (Boolean, pa.bool_()),
    (BigInteger, pa.int64()),
    (Integer, pa.int32()),
    (Float, pa.float64()),
    (DateTime, pa.timestamp("us", tz="UTC")),
    (JSON, pa.string()),
    (String, pa.string()),
)

Record = dict[str, Any]


def arrow_schema(columns: Sequence[Column[Any]]) -> pa.Schema:
    return pa.schema([pa.field(c.name, _arrow_type(c), nullable=c.nullable) for c in columns])


def _arrow_type(column: Column[Any]) -> pa.DataType:
    for sql_type, arrow_type in _ARROW_TYPES:
        if isinstance(column.type, sql_type):
            return arrow_type
    raise TypeError(f"no Parquet type for column {column.name!r} of type {column.type!r}")


class _Drain:
    """The file the writer writes to: it keeps the bytes until `take` hands them over."""

    closed = False  # pyarrow checks it before each write

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(data)
        return len(data)

    def take(self) -> bytes:
        taken = b"".join(self._chunks)
        self._chunks.clear()
        return taken


async def encode_parquet(
    records: AsyncIterable[Record], columns: Sequence[Column[Any]]
) -> AsyncIterator[bytes]:
    schema = arrow_schema(columns)
    json_columns = [c.name for c in columns if isinstance(c.type, JSON)]
    drain = _Drain()
    # Not a `with`: were the export cancelled (its client gone), closing the writer would
    # race the thread still writing a group. pyarrow closes it once it is collected.
    writer = pq.ParquetWriter(drain, schema)
    async for group in _row_groups(records, schema, json_columns):
        # Encoding and compressing a row group takes tens of milliseconds.
        await asyncio.to_thread(writer.write_table, group)
        yield drain.take()
    writer.close()
    yield drain.take()


async def _row_groups(
    records: AsyncIterable[Record], schema: pa.Schema, json_columns: list[str]
) -> AsyncIterator[pa.Table]:
    batches: list[pa.RecordBatch] = []
    rows = 0
    async for records_slice in _slices(records, _SLICE_ROWS):
        batches.append(_record_batch(records_slice, schema, json_columns))
        rows += len(records_slice)
        if rows >= ROWS_PER_GROUP:
            yield pa.Table.from_batches(batches, schema)
            batches, rows = [], 0
    if batches:
        yield pa.Table.from_batches(batches, schema)


async def _slices(records: AsyncIterable[Record], size: int) -> AsyncIterator[list[Record]]:
    records_slice: list[Record] = []
    async for record in records:
        records_slice.append(record)
        if len(records_slice) == size:
            yield records_slice
            records_slice = []
    if records_slice:
        yield records_slice


def _record_batch(
    records: list[Record], schema: pa.Schema, json_columns: list[str]
) -> pa.RecordBatch:
    values = {name: [record[name] for record in records] for name in schema.names}
    for name in json_columns:
        values[name] = [None if v is None else orjson.dumps(v).decode() for v in values[name]]
    return pa.RecordBatch.from_pydict(values, schema=schema)
