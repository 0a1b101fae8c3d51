"""The links of the console's numbered lists (the operators' organizations and users, an
organization's members): which page of how many, and the pages before and after it, each
keeping the list's search. The template side is `pager` in `templates/macros.html`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode


def pages_of(total: int, size: int) -> int:
    return max(1, -(-total // size))


def page_link(base: str, query: Mapping[str, str], number: int) -> str:
    """The list's page `number`, keeping its search."""
    kept = {name: value for name, value in query.items() if value}
    return f"{base}?{urlencode({**kept, 'page': number})}"


def pager(base: str, query: Mapping[str, str], number: int, total: int, size: int) -> Any:
    """The links of a paged list: previous (from past the end, the last page), next,
    which page of how many."""
    pages = pages_of(total, size)
    return {
        "previous": None if number <= 1 else page_link(base, query, min(number - 1, pages)),
        "next": None if number >= pages else page_link(base, query, number + 1),
        "number": number,
        "pages": pages,
    }
