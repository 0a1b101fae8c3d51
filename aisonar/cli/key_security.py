"""`aisonar key rotate|allow-ip` (added to the `key` group): a new secret with a grace
period for the old one, and where a key may be used from."""

from __future__ import annotations

from datetime import timedelta

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.models import ApiKey
from aisonar.accounts.services import rotate_key, set_allowed_ips
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, run_in_database, split_list
from aisonar.cli.output import emit_one, emit_with_secret


@click.command("rotate")
@click.argument("key_id")
@click.option(
    "--grace",
    type=click.IntRange(0, 30 * 86400),
    default=3600,
    show_default=True,
    help="Seconds the current secret keeps working beside the new one.",
)
@json_option
def key_rotate(key_id: str, grace: int, as_json: bool) -> None:
    """Give a key a new secret, printed once; the current one works for --grace seconds."""

    async def work(conn: AsyncConnection) -> tuple[ApiKey, str]:
        return await rotate_key(conn, key_id, grace=timedelta(seconds=grace), actor=COMMAND_LINE)

    rotated, secret = run_in_database(work)
    emit_with_secret(rotated, secret, as_json=as_json)


@click.command("allow-ip")
@click.argument("key_id")
@click.argument("addresses")
@json_option
def key_allow_ip(key_id: str, addresses: str, as_json: bool) -> None:
    """Restrict a key to comma-separated addresses or CIDR blocks; `none` lifts it."""
    allowed = None if addresses.strip().lower() == "none" else split_list(addresses) or []

    async def work(conn: AsyncConnection) -> ApiKey:
        return await set_allowed_ips(conn, key_id, allowed, actor=COMMAND_LINE)

    emit_one(run_in_database(work), as_json=as_json)
