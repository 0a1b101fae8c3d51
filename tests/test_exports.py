"""Encoding of streamed records: every record once, in order, in chunks of bytes rather
than one string. CSV has nested values as JSON cells; Parquet is typed from the
SQLAlchemy columns and written one row group at a time."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

import aisonar
from aisonar.exports import encode_records
from aisonar.exports import parquet as parquet_export
from aisonar.exports.spreadsheet import FIGURE_COLUMN

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
COLUMNS = (
    Column("id", Integer, nullable=False),
    Column("name", String(64)),
    Column("attempts", JSON),
    Column("at", DateTime(timezone=True)),
)


async def records(count: int) -> AsyncIterator[dict[str, Any]]:
    for number in range(count):
        yield {
            "id": number,
            "name": f'row, "{number}"',
            "attempts": [{"n": number}] if number % 2 else None,
            "at": START + timedelta(microseconds=number),
        }


async def encoded(count: int, fmt: str) -> list[bytes]:
    return [chunk async for chunk in encode_records(records(count), COLUMNS, fmt)]


async def test_csv_has_a_header_nested_values_as_json_and_iso_times() -> None:
    chunks = await encoded(5000, "csv")
    assert len(chunks) > 1 and all(chunks)
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [int(row["id"]) for row in rows] == list(range(5000))
    assert rows[7]["name"] == 'row, "7"' and json.loads(rows[7]["attempts"]) == [{"n": 7}]
    assert rows[7]["at"] == "2026-11-20T12:00:00.000007+00:00" and rows[8]["attempts"] == ""


async def test_csv_text_a_spreadsheet_would_run_is_escaped_and_numbers_stay_numbers() -> None:
    columns = (
        Column("model", String),
        Column("detail", JSON),
        Column("amount", BigInteger),
        Column("amount_display", String, info=FIGURE_COLUMN),
    )
    formulas = ("=1+2", "+1", "-1.50", "@SUM(A1)", "\tx", "\rx")

    async def written() -> AsyncIterator[dict[str, Any]]:
        for text in formulas:
            yield {"model": text, "detail": text, "amount": -1_500_000, "amount_display": "-1.50"}
        yield {"model": "gpt-4o", "detail": {"f": "=1"}, "amount": 0, "amount_display": "=1+2"}
        # A carriage return inside a cell starts no row of the client's making.
        yield {"model": "a\r=1+2", "detail": None, "amount": 1, "amount_display": "1.00"}

    chunks = [chunk async for chunk in encode_records(written(), columns, "csv")]
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode(), newline="")))
    for text, row in zip(formulas, rows, strict=False):
        assert row == {
            "model": "'" + text,
            "detail": "'" + text,
            "amount": "-1500000",
            "amount_display": "-1.50",
        }
    # A figure column holding anything but a number is text like any other.
    assert rows[-2] == {
        "model": "gpt-4o",
        "detail": '{"f":"=1"}',
        "amount": "0",
        "amount_display": "'=1+2",
    }
    assert len(rows) == len(formulas) + 2 and rows[-1]["model"] == "a\r=1+2"


def test_every_csv_the_server_writes_goes_through_the_spreadsheet_writer() -> None:
    package = Path(aisonar.__file__).parent
    writers = [
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "csv.writer(" in path.read_text() or "csv.DictWriter(" in path.read_text()
    ]
    assert writers == ["exports/spreadsheet.py"]


async def test_json_lines_are_one_record_each() -> None:
    lines = b"".join(await encoded(3, "jsonl")).splitlines()
    assert [json.loads(line)["attempts"] for line in lines] == [None, [{"n": 1}], None]
    assert json.loads(lines[0])["at"] == "2026-11-20T12:00:00+00:00"


async def test_nothing_but_a_header_for_no_records_and_unknown_formats_refused() -> None:
    assert await encoded(0, "csv") == [b"id,name,attempts,at\r\n"]
    assert await encoded(0, "jsonl") == []
    with pytest.raises(ValueError, match="unknown export format 'xml'"):
        await encoded(1, "xml")


def test_the_parquet_schema_follows_the_column_types() -> None:
    table = Table(
        "typed",
        MetaData(),
        Column("id", String(40), primary_key=True),
        Column("note", Text),
        Column("count", Integer, nullable=False),
        Column("total", BigInteger().with_variant(Integer, "sqlite")),
        Column("flag", Boolean),
        Column("ratio", Float),
        Column("at", DateTime(timezone=True)),
        Column("extra", JSON),
    )
    derived = Column("ended_at", DateTime(timezone=True), nullable=False)
    timestamp = pa.timestamp("us", tz="UTC")
    assert parquet_export.arrow_schema([*table.columns, derived]) == pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            ("note", pa.string()),
            pa.field("count", pa.int32(), nullable=False),
            ("total", pa.int64()),
            ("flag", pa.bool_()),
            ("ratio", pa.float64()),
            ("at", timestamp),
            ("extra", pa.string()),
            pa.field("ended_at", timestamp, nullable=False),
        ]
    )
    with pytest.raises(TypeError, match="no Parquet type for column 'blob'"):
        parquet_export.arrow_schema([Column("blob", LargeBinary)])


async def test_parquet_is_written_a_row_group_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet_export, "ROWS_PER_GROUP", 2_000)
    chunks = await encoded(5_500, "parquet")
    # The first row group (after the magic bytes), the second, the third, the footer.
    assert len(chunks) == 4 and all(chunks)
    assert max(map(len, chunks)) < sum(map(len, chunks)) / 2
    parquet = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert [parquet.metadata.row_group(i).num_rows for i in range(3)] == [2_000, 2_000, 1_500]
    expected = [record async for record in records(5_500)]
    read = parquet.read().to_pylist()
    assert [{**row, "attempts": _json(row["attempts"])} for row in read] == expected


def _json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


async def test_parquet_of_no_records_is_a_file_with_the_schema_and_no_rows() -> None:
    table = pq.read_table(io.BytesIO(b"".join(await encoded(0, "parquet"))))
    assert table.num_rows == 0 and table.schema == parquet_export.arrow_schema(COLUMNS)
