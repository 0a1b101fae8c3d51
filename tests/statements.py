"""Count the SQL statements a block of code runs: a page that reads in SQL runs the same
number whatever the number of rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement `engine` runs inside the block."""
    ran: list[str] = []

    def count(*args: Any) -> None:
        ran.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield ran
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
