"""The async engine for SQLite (WAL) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# How long a SQLite statement waits for another connection's lock before failing.
BUSY_TIMEOUT_MS = 10_000


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # 64 MiB of page cache (the default is 2 MiB): the usage writer's inserts touch five
    # b-trees and its upserts the rollups'; with the default the raw insert was halved.
    cursor.execute("PRAGMA cache_size=-65536")
    # Deleted personal data must not linger in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def placeholders(count: int, sqlite: bool) -> str:
    """The driver's positional parameters, for SQL handed to it directly: `?` for
    SQLite, `$1 ... $n` for asyncpg."""
    if sqlite:
        return ", ".join("?" for _ in range(count))
    return ", ".join(f"${i}" for i in range(1, count + 1))


def _create_private_database_file(url: str) -> None:
    """Create a missing SQLite database file readable by this service's user only (0600):
    SQLite gives its -wal and -shm files the database file's mode, where it would make
    the database itself 0644 less the umask."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    # A missing directory is left for SQLite to report when it connects.
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        _create_private_database_file(url)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
