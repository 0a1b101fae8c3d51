"""What every command shares: settings, a migrated database, and one-line errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.clock import as_utc
from aisonar.config import InsecureSettings, Settings
from aisonar.crypto import SecretBox
from aisonar.errors import AISonarError
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head

T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def load_settings(**overrides: Any) -> Settings:
    """The settings, with what a command's options give in place of the environment's."""
    try:
        return Settings(**overrides)
    except (ValidationError, InsecureSettings) as error:
        raise click.ClickException(f"invalid settings: {error}") from error


def secret_box() -> SecretBox:
    """What seals and opens secrets at rest, under the configured secret key."""
    settings = load_settings()
    return SecretBox(settings.resolved_secret_key(), settings.secret_key_previous)


async def _with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    settings.make_data_dir()
    engine = create_engine(settings.resolved_database_url, **settings.engine_options())
    try:
        await upgrade_to_head(engine)
        return await work(engine)
    finally:
        await engine.dispose()


async def _in_transaction(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def in_one(engine: AsyncEngine) -> T:
        async with engine.begin() as conn:
            return await work(conn)

    return await _with_engine(settings, in_one)


def run_in_database(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the configured database; domain errors exit 1."""
    try:
        return asyncio.run(_in_transaction(load_settings(), work))
    except AISonarError as error:
        raise click.ClickException(error.message) from error


def run_with_engine(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` on the configured, migrated database, in transactions of its own
    making (long work committed a step at a time); domain errors exit 1."""
    try:
        return asyncio.run(_with_engine(load_settings(), work))
    except AISonarError as error:
        raise click.ClickException(error.message) from error


def parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from error


def split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None
