"""The async engine for SQLite (WAL) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import contextlib
import os
import uuid
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


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, pgbouncer: bool = False
) -> AsyncEngine:
    """The engine of `url`. On PostgreSQL a process keeps up to `pool_size` connections
    open and opens up to `max_overflow` more under load. With `pgbouncer` the URL is a
    pooler in transaction mode, which hands each transaction whichever server connection
    is free: no prepared statement is kept for reuse (asyncpg's statement cache and
    SQLAlchemy's are off) and those a statement still needs get unique names, as
    SQLAlchemy's asyncpg dialect documents ("Prepared Statement Name with PGBouncer"), so
    that two never clash on one server connection; the pooler's `DISCARD ALL` after each
    transaction drops them."""
    if is_sqlite(url):
        _create_private_database_file(url)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if pgbouncer:
        connect_args = {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unique_statement_name,
        }
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"
