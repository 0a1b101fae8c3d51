"""`aisonar token create|list|revoke`: personal access tokens for the management API."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.services import AccessToken
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, parse_time, run_in_database
from aisonar.cli.output import emit, emit_one, emit_with_secret

TOKEN_COLUMNS = ("id", "name", "display_prefix", "expires_at", "revoked_at", "created_at")


@click.group()
def token() -> None:
    """Personal access tokens for the management API (`/api/`)."""


@token.command("create")
@click.argument("email")
@click.option("--name", default="", help="A label for the token.")
@click.option("--expires", help="Expiry time, ISO 8601.")
@json_option
def token_create(email: str, name: str, expires: str | None, as_json: bool) -> None:
    """Create a token acting as the user, with their role; printed once and never again."""
    expires_at = parse_time(expires, "--expires")

    async def work(conn: AsyncConnection) -> tuple[AccessToken, str]:
        return await accounts.create_token(
            conn, email, name=name, expires_at=expires_at, actor=COMMAND_LINE
        )

    created, secret = run_in_database(work)
    emit_with_secret(created, secret, as_json=as_json)


@token.command("list")
@click.argument("email")
@json_option
def token_list(email: str, as_json: bool) -> None:
    """List a user's tokens (never their secrets)."""

    async def work(conn: AsyncConnection) -> list[AccessToken]:
        user = await accounts.get_user_by_email(conn, email)
        return await accounts.list_tokens(conn, user.id)

    emit(run_in_database(work), TOKEN_COLUMNS, as_json=as_json)


@token.command("revoke")
@click.argument("token_id")
@json_option
def token_revoke(token_id: str, as_json: bool) -> None:
    """Revoke a token; it stops working at once."""

    async def work(conn: AsyncConnection) -> AccessToken:
        return await accounts.revoke_token(conn, token_id, actor=COMMAND_LINE)

    emit_one(run_in_database(work), as_json=as_json)
