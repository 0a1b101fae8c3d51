"""`aisonar status`: the version, the database and Redis, as the configured settings
reach them, without a running server."""

from __future__ import annotations

import asyncio
from typing import Any

import click
import orjson

from aisonar.cli.context import json_option, load_settings
from aisonar.config import Settings
from aisonar.observability.services import aisonar_version, database_status, redis_status
from aisonar.store.engine import create_engine


async def _status(settings: Settings) -> dict[str, Any]:
    engine = create_engine(settings.resolved_database_url, **settings.engine_options())
    try:
        database = await database_status(engine)
    finally:
        await engine.dispose()
    redis = await redis_status(settings.redis_url)
    return {
        "version": aisonar_version(),
        "database": database.model_dump(),
        "redis": redis.model_dump(),
    }


def _healthy(status: dict[str, Any]) -> bool:
    database, redis = status["database"], status["redis"]
    return bool(database["reachable"] and database["up_to_date"]) and redis["reachable"] in (
        None,
        True,
    )


def _print(status: dict[str, Any]) -> None:
    click.echo(f"version: {status['version']}")
    for part in ("database", "redis"):
        for field, value in status[part].items():
            click.echo(f"{part}.{field}: {'-' if value is None else value}")


@click.command("status")
@json_option
def status(as_json: bool) -> None:
    """The version, the database (dialect, reachable, latency of a trivial query, its
    migration against the newest) and Redis (configured, reachable, latency). It needs
    no running server, so it shows only these: a server's queues, channels and uptime
    are in GET /api/system/status. Exits 1 when the database cannot be reached or is
    not migrated to the newest revision, or a configured Redis cannot be reached."""
    settings = load_settings()
    found = asyncio.run(_status(settings))
    if as_json:
        click.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
    else:
        _print(found)
    if not _healthy(found):
        raise SystemExit(1)
