"""The one CSV writer every CSV the server writes goes through, so that a spreadsheet
opening it runs no formula (OWASP, "CSV Injection"): a text cell starting with `=`, `+`,
`-`, `@`, a tab or a carriage return gets a leading `'`, which spreadsheets show as
text. Model names, ingested fields, notes and the like are the clients' own words.

Numbers stay numbers: an int, float or Decimal cell is written as it is, and so is a
`Figure`, the text of a number the code itself made (such as a ledger's "-1.50"). A
client's text reading "-1.50" is still text, and is escaped like any other."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")

# A detached export column carrying this `info` holds numbers the code formatted as text.
FIGURE_COLUMN = {"spreadsheet": "figure"}


class Figure(str):
    """A number's text as the code wrote it, trusted to stay a number in a spreadsheet."""

    __slots__ = ()


def figure(value: str) -> str:
    """`value` as a Figure when it is a plain decimal number; otherwise it stays text and
    is escaped like any other."""
    return Figure(value) if _NUMBER.fullmatch(value) else value


def cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and type(value) is not Figure:
        return "'" + value
    return value


class _Writer(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


class SpreadsheetWriter:
    """csv.writer's rows, each text cell made safe for a spreadsheet."""

    def __init__(self, out: Any) -> None:
        # Lines end in CRLF (RFC 4180): csv quotes a cell holding any character of the line
        # ending, and a bare carriage return left unquoted would start a row of the
        # client's making in a spreadsheet.
        self._writer: _Writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(value) for value in row])
