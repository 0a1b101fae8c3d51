"""Each pytest-xdist worker gets a PostgreSQL database and a Redis database of its own, so
that workers never see each other's rows, keys or counters.

The worker's URLs replace the configured ones in the environment before any test module
reads them: `gw0` uses `<database>_gw0` and the configured Redis database number plus 0,
`gw1` `<database>_gw1` and plus 1, and so on."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from aisonar.config import Settings

DATABASE_VARIABLE = "AISONAR_TEST_DATABASE_URL"
REDIS_VARIABLE = "AISONAR_TEST_REDIS_URL"
REDIS_DATABASES = 16


def isolate_worker() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    index = int(worker.removeprefix("gw"))
    if database_url := os.environ.get(DATABASE_VARIABLE):
        os.environ[DATABASE_VARIABLE] = asyncio.run(database_of_its_own(database_url, worker))
    if redis_url := os.environ.get(REDIS_VARIABLE):
        os.environ[REDIS_VARIABLE] = _own_redis_database(redis_url, index)


async def database_of_its_own(url: str, suffix: str) -> str:
    """The URL of database `<database>_<suffix>` beside the one of `url`, created if
    missing."""
    configured = make_url(url)
    name = f"{configured.database}_{suffix}"
    engine = create_async_engine(
        Settings(database_url=url).resolved_database_url, isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return configured.set(database=name).render_as_string(hide_password=False)


def _own_redis_database(url: str, index: int) -> str:
    base, _, number = url.rstrip("/").rpartition("/")
    database = (int(number) if number.isdigit() else 0) + index
    if database >= REDIS_DATABASES:
        raise RuntimeError(f"{url}: no Redis database {database} for worker {index}")
    return f"{base}/{database}" if number.isdigit() else f"{url.rstrip('/')}/{database}"
