"""CSV and JSON Lines encoding of streamed records: every record once, in order, nested
values as JSON cells in CSV, and output in chunks rather than one string."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aisonar.exports import encode_records

COLUMNS = ("id", "name", "attempts")


async def records(count: int) -> AsyncIterator[dict[str, Any]]:
    for number in range(count):
        yield {"id": number, "name": f'row, "{number}"', "attempts": [{"n": number}]}


async def encoded(count: int, fmt: str) -> list[str]:
    return [chunk async for chunk in encode_records(records(count), COLUMNS, fmt)]


async def test_csv_has_a_header_and_nested_values_as_json() -> None:
    chunks = await encoded(5000, "csv")
    assert len(chunks) > 1 and all(chunks)
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert [int(row["id"]) for row in rows] == list(range(5000))
    assert rows[7]["name"] == 'row, "7"' and json.loads(rows[7]["attempts"]) == [{"n": 7}]


async def test_json_lines_are_one_record_each() -> None:
    lines = "".join(await encoded(3, "jsonl")).splitlines()
    assert [json.loads(line)["attempts"] for line in lines] == [[{"n": 0}], [{"n": 1}], [{"n": 2}]]


async def test_nothing_but_a_header_for_no_records_and_unknown_formats_refused() -> None:
    assert await encoded(0, "csv") == ["id,name,attempts\n"]
    assert await encoded(0, "jsonl") == []
    with pytest.raises(ValueError, match="unknown export format"):
        await encoded(1, "xml")
