"""`aisonar channel ...`: upstream provider accounts."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.channels import services
from aisonar.channels.models import DEFAULT_BASE_URLS, Channel, Provider
from aisonar.cli.context import json_option, load_settings, run_in_database
from aisonar.cli.output import emit, emit_one
from aisonar.crypto import SecretBox

CHANNEL_COLUMNS = ("id", "name", "provider", "base_url", "models", "enabled")


@click.group()
def channel() -> None:
    """Upstream channels."""


@channel.command("create")
@click.argument("name")
@click.option("--provider", type=click.Choice([p.value for p in Provider]), required=True)
@click.option(
    "--base-url",
    help="The base URL the provider's SDK takes; defaults to the provider's public API.",
)
@click.option("--api-key", required=True, help="The upstream secret (stored encrypted).")
@click.option("--models", required=True, help="Comma-separated: a,b,alias=upstream-model")
@json_option
def channel_create(
    name: str, provider: str, base_url: str | None, api_key: str, models: str, as_json: bool
) -> None:
    """Connect an upstream provider account."""
    box = SecretBox(load_settings().resolved_secret_key())

    async def work(conn: AsyncConnection) -> Channel:
        return await services.create_channel(
            conn,
            box,
            name=name,
            provider=provider,
            base_url=base_url or DEFAULT_BASE_URLS[provider],
            api_key=api_key,
            models=models,
        )

    emit_one(run_in_database(work), as_json=as_json)


@channel.command("list")
@json_option
def channel_list(as_json: bool) -> None:
    """List channels (never their secrets)."""
    emit(run_in_database(services.list_channels), CHANNEL_COLUMNS, as_json=as_json)
