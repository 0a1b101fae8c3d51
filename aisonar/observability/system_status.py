"""What operators check first when something is wrong, that needs no running server:
the version, the database (reachable, how fast, its migration against the code's) and
Redis. `aisonar status` prints these; `GET /api/system/status` adds the server's own
queues and channels (`api/system_status.py`)."""

from __future__ import annotations

import time
from importlib.metadata import version

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import BaseModel
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.store.migrate import alembic_config
from aisonar.store.redis_client import UNREACHABLE, close, connect

_REDIS_TIMEOUT_S = 2.0


class DatabaseStatus(BaseModel):
    # sqlite or postgresql
    dialect: str
    reachable: bool
    # Of `SELECT 1`, when reachable.
    latency_ms: float | None
    # The database's migration, and the newest this code knows.
    revision: str | None
    head: str | None
    up_to_date: bool
    # Why it could not be reached (its kind and message; never the URL).
    error: str | None


class RedisStatus(BaseModel):
    # False: everything is kept in each server's memory (`AISONAR_REDIS_URL` is empty).
    configured: bool
    reachable: bool | None
    latency_ms: float | None
    error: str | None


def aisonar_version() -> str:
    return version("aisonar")


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _error(error: Exception) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:300]


async def database_status(engine: AsyncEngine) -> DatabaseStatus:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    dialect = engine.dialect.name
    try:
        async with engine.connect() as conn:
            started = time.perf_counter()
            await conn.execute(text("SELECT 1"))
            latency = _elapsed_ms(started)
            revision = await conn.run_sync(_revision)
    except (SQLAlchemyError, OSError) as error:
        return DatabaseStatus(
            dialect=dialect,
            reachable=False,
            latency_ms=None,
            revision=None,
            head=head,
            up_to_date=False,
            error=_error(error),
        )
    return DatabaseStatus(
        dialect=dialect,
        reachable=True,
        latency_ms=latency,
        revision=revision,
        head=head,
        up_to_date=revision == head,
        error=None,
    )


async def redis_status(url: str) -> RedisStatus:
    if not url:
        return RedisStatus(configured=False, reachable=None, latency_ms=None, error=None)
    client = connect(url, max_connections=1, timeout_s=_REDIS_TIMEOUT_S)
    try:
        started = time.perf_counter()
        await client.ping()
        latency = _elapsed_ms(started)
    except UNREACHABLE as error:
        return RedisStatus(configured=True, reachable=False, latency_ms=None, error=_error(error))
    finally:
        await close(client)
    return RedisStatus(configured=True, reachable=True, latency_ms=latency, error=None)
