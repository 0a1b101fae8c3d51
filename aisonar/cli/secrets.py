"""`aisonar secret rotate`: every sealed secret re-sealed under AISONAR_SECRET_KEY."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.audit import services as audit
from aisonar.audit.models import COMMAND_LINE
from aisonar.channels import services as channels
from aisonar.cli.context import json_option, run_with_engine, secret_box
from aisonar.cli.output import emit_one
from aisonar.crypto import SecretBoxError
from aisonar.notify import services as notify


@click.group()
def secret() -> None:
    """The secret key (AISONAR_SECRET_KEY) that seals upstream secrets at rest."""


@secret.command("rotate")
@json_option
def secret_rotate(as_json: bool) -> None:
    """Re-seal every sealed secret (channels' upstream keys, webhooks' signing secrets)
    under AISONAR_SECRET_KEY, opening those still under AISONAR_SECRET_KEY_PREVIOUS.
    Each batch is committed: run it again after an interruption, and a run after a
    finished one re-seals nothing. Servers must have both keys while it runs."""
    box = secret_box()

    async def work(engine: AsyncEngine) -> dict[str, int]:
        of_channels = await channels.reseal_secrets(engine, box)
        of_webhooks = await notify.reseal_webhook_secrets(engine, box)
        both = of_channels + of_webhooks
        if both.resealed:
            async with engine.begin() as conn:
                await audit.record(
                    conn,
                    COMMAND_LINE,
                    "secret.rotate",
                    object_kind="secret_key",
                    object_id="AISONAR_SECRET_KEY",
                    changes={"resealed": [0, both.resealed]},
                )
        return {
            "channels_resealed": of_channels.resealed,
            "webhooks_resealed": of_webhooks.resealed,
            "already_current": both.current,
        }

    try:
        done = run_with_engine(work)
    except SecretBoxError as error:
        raise click.ClickException(
            f"{error}: it opens under neither AISONAR_SECRET_KEY nor "
            "AISONAR_SECRET_KEY_PREVIOUS; what was re-sealed before it stays re-sealed"
        ) from error
    emit_one(done, as_json=as_json)
    if not as_json:
        click.echo(
            "every secret is sealed under AISONAR_SECRET_KEY: "
            "AISONAR_SECRET_KEY_PREVIOUS can be removed from every server",
            err=True,
        )
