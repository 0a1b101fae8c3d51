"""Keyset paging of the management API's lists: `?after=<id>&limit=N` asks for the N rows
after that one; when more follow, the answer's `Link` header (RFC 8288) gives the next
page's address with `rel="next"`. Without `limit` a list is whole, as it always was. The
logs read newest first (`?before_id=<id>&limit=N`) give the same `Link` when a full page
came back, with the request's other parameters kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request, Response

from aisonar.accounts.services import Page

Row = TypeVar("Row")

After = Annotated[str | None, Query(max_length=64, description="Page after this row's id.")]
Limit = Annotated[int | None, Query(ge=1, le=1000, description="At most this many rows.")]


def page(after: str | None, limit: int | None) -> Page:
    """The page to read: one row more than asked, to know whether another page follows."""
    return Page(limit=None if limit is None else limit + 1, after=after)


def cut(
    found: list[Row],
    limit: int | None,
    response: Response,
    path: str,
    id_of: Callable[[Row], str],
) -> list[Row]:
    """The rows asked for, with the next page's `Link` when more were found (`path` may
    carry the list's own filters)."""
    if limit is None or len(found) <= limit:
        return found
    shown = found[:limit]
    query = urlencode({"after": id_of(shown[-1]), "limit": limit})
    joined = "&" if "?" in path else "?"
    response.headers["Link"] = f'<{path}{joined}{query}>; rel="next"'
    return shown


def back(
    found: list[Row], limit: int, request: Request, response: Response, id_of: Callable[[Row], int]
) -> list[Row]:
    """A newest-first page, with the `Link` to the older rows when it is full (a last page
    that happens to be full is followed by an empty one)."""
    if found and len(found) >= limit:
        query = urlencode({**request.query_params, "before_id": id_of(found[-1]), "limit": limit})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    return found
