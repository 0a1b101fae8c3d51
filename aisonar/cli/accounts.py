"""`aisonar org|user|key ...`: organizations, users and API keys."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services
from aisonar.accounts.models import ApiKey, KeyScope, Organization, Plan, User
from aisonar.accounts.services import set_org_plan, set_org_retention, update_user
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, parse_time, run_in_database, split_list
from aisonar.cli.output import as_record, emit_one, emit_page, emit_with_secret
from aisonar.store.roles import Role
from aisonar.usage import services as usage

ORG_COLUMNS = ("id", "name", "plan", "models", "created_at")
USER_COLUMNS = ("id", "email", "name", "org_name", "role", "disabled", "created_at")
KEY_COLUMNS = (
    "id",
    "name",
    "display_prefix",
    "models",
    "allowed_ips",
    "scope",
    "expires_at",
    "revoked_at",
    "created_at",
)


@click.group()
def org() -> None:
    """Organizations."""


def _org_record(org: Organization, models: list[str] | None, *, as_json: bool) -> dict[str, Any]:
    """An organization with its model list; a table says `all` where JSON has null."""
    shown: list[str] | str | None = models if models is not None or as_json else "all"
    return {**as_record(org), "models": shown}


def _model_list(models: str) -> list[str]:
    """`--models a,b`: an empty list is refused rather than read as every model."""
    found = split_list(models)
    if not found:
        raise click.BadParameter("give at least one model", param_hint="--models")
    return found


@org.command("create")
@click.argument("name")
@click.option("--plan", type=click.Choice([p.value for p in Plan]), default=Plan.FREE.value)
@click.option(
    "--models",
    help="Comma-separated models (names or `*` patterns) its keys may use (default: all).",
)
@json_option
def org_create(name: str, plan: str, models: str | None, as_json: bool) -> None:
    """Create an organization."""
    allowed = None if models is None else _model_list(models)

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        created = await services.create_org(conn, name, plan, models=allowed, actor=COMMAND_LINE)
        stored = None if allowed is None else services.validate_model_list(allowed)
        return _org_record(created, stored, as_json=as_json)

    emit_one(run_in_database(work), as_json=as_json)


def _days(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a number of days nor `plan`", param_hint="--retention-days"
        ) from None


@org.command("update")
@click.argument("name")
@click.option("--models", help="Comma-separated models (names or `*` patterns) its keys may use.")
@click.option("--all-models", is_flag=True, help="Lift the restriction: every model.")
@click.option("--plan", type=click.Choice([p.value for p in Plan]), help="Move it to a plan.")
@click.option(
    "--retention-days",
    help="Keep its raw usage this many days (1 to 3650), or `plan` to follow its plan.",
)
@click.option(
    "--dimension-properties",
    help="Comma-separated custom properties (at most 5) to roll its usage up by, so that "
    "summaries by them read rollups; `none` for none.",
)
@json_option
def org_update(
    name: str,
    models: str | None,
    all_models: bool,
    plan: str | None,
    retention_days: str | None,
    dimension_properties: str | None,
    as_json: bool,
) -> None:
    """Move an organization to a plan, give it its own retention, restrict its keys to
    some models (or lift the restriction), or mark the custom properties its usage is
    rolled up by; every running server applies it within a second."""
    if models is not None and all_models:
        raise click.UsageError("give exactly one of --models and --all-models")
    changes = (plan, retention_days, dimension_properties)
    if models is None and not all_models and changes == (None, None, None):
        raise click.UsageError(
            "give --plan, --retention-days, --dimension-properties, or exactly one of "
            "--models and --all-models"
        )
    allowed = None if models is None else _model_list(models)
    days = None if retention_days in (None, "plan") else _days(retention_days)

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        org = await services.get_org_by_name(conn, name)
        if plan is not None:
            await set_org_plan(conn, org.id, Plan(plan), actor=COMMAND_LINE)
        if retention_days is not None:
            await set_org_retention(conn, org.id, days, actor=COMMAND_LINE)
        if models is not None or all_models:
            await services.set_org_models(conn, name, allowed, actor=COMMAND_LINE)
        if dimension_properties is not None:
            listed = split_list(dimension_properties) or []
            names = [] if listed == ["none"] else listed
            await usage.mark_properties(conn, COMMAND_LINE, org.id, names)
        org = await services.get_org_by_name(conn, name)
        return _org_record(org, await services.org_models(conn, org.id), as_json=as_json)

    emit_one(run_in_database(work), as_json=as_json)


_limit_option = click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    help="At most this many, oldest first (default: every one); the next page's --after is "
    "said on standard error.",
)
_after_option = click.option("--after", help="Only those after this id (where a page ended).")


def _page(limit: int | None, after: str | None) -> services.Page:
    """One row more than asked, to know whether another page follows."""
    return services.Page(limit=None if limit is None else limit + 1, after=after)


@org.command("list")
@_limit_option
@_after_option
@json_option
def org_list(limit: int | None, after: str | None, as_json: bool) -> None:
    """List organizations and the models their keys may use."""

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        found = await services.orgs_page(conn, _page(limit, after))
        return [_org_record(org, models, as_json=as_json) for org, models in found]

    emit_page(run_in_database(work), limit, ORG_COLUMNS, as_json=as_json)


@click.group()
def user() -> None:
    """Users."""


@user.command("create")
@click.argument("email")
@click.option("--org", "org_name", required=True, help="The user's organization.")
@click.option("--name", default="", help="Display name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.USER.value)
@click.option("--password-stdin", is_flag=True, help="Read a password from standard input.")
@json_option
def user_create(
    email: str, org_name: str, name: str, role: str, password_stdin: bool, as_json: bool
) -> None:
    """Create a user in an organization."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None

    async def work(conn: AsyncConnection) -> User:
        return await services.create_user(
            conn, email, org_name, name=name, role=role, password=password, actor=COMMAND_LINE
        )

    emit_one(run_in_database(work), as_json=as_json)


@user.command("update")
@click.argument("email")
@click.option("--name", help="Display name.")
@click.option("--role", type=click.Choice([r.value for r in Role]))
@click.option(
    "--disable/--enable",
    "disabled",
    default=None,
    help="Disable (keys, tokens and sessions stop at once) or enable the user.",
)
@click.option(
    "--email",
    "new_email",
    help="A new email address, at once (their sessions end; both addresses are told).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Set their password, read from standard input (their sessions end; they are told).",
)
@json_option
def user_update(
    email: str,
    name: str | None,
    role: str | None,
    disabled: bool | None,
    new_email: str | None,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Rename a user, change their role, email address or password, or disable or enable
    them."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    profile = (name, role, disabled, new_email) != (None, None, None, None)

    async def work(conn: AsyncConnection) -> User:
        user = await services.get_user_by_email(conn, email)
        if password is not None:
            await services.set_password(conn, user.id, password, actor=COMMAND_LINE)
        if password is not None and not profile:
            return await services.get_user(conn, user.id)
        return await update_user(
            conn,
            user.id,
            name=name,
            role=None if role is None else Role(role),
            disabled=disabled,
            email=new_email,
            actor=COMMAND_LINE,
        )

    emit_one(run_in_database(work), as_json=as_json)


@user.command("list")
@click.option("--org", "org_name", help="Only this organization's users.")
@_limit_option
@_after_option
@json_option
def user_list(org_name: str | None, limit: int | None, after: str | None, as_json: bool) -> None:
    """List users."""

    async def work(conn: AsyncConnection) -> list[User]:
        org_id = (await services.get_org_by_name(conn, org_name)).id if org_name else ""
        search = services.UserSearch(org_id=org_id)
        return await services.users_page(conn, _page(limit, after), search)

    emit_page(run_in_database(work), limit, USER_COLUMNS, as_json=as_json)


@click.group()
def key() -> None:
    """API keys."""


@key.command("create")
@click.argument("email")
@click.option("--name", default="", help="A label for the key.")
@click.option("--models", help="Comma-separated models the key may use (default: all).")
@click.option("--expires", help="Expiry time, ISO 8601.")
@click.option("--allow-ip", help="Comma-separated addresses or CIDR blocks it may be used from.")
@click.option(
    "--scope",
    type=click.Choice([scope.value for scope in KeyScope]),
    default=KeyScope.ALL.value,
    help="ingest: a key that can only report usage events and spans.",
)
@json_option
def key_create(
    email: str,
    name: str,
    models: str | None,
    expires: str | None,
    allow_ip: str | None,
    scope: str,
    as_json: bool,
) -> None:
    """Create an API key; its secret is printed once and never again."""
    expires_at = parse_time(expires, "--expires")

    async def work(conn: AsyncConnection) -> tuple[ApiKey, str]:
        return await services.create_key(
            conn,
            email,
            name=name,
            models=split_list(models),
            expires_at=expires_at,
            allowed_ips=split_list(allow_ip),
            scope=KeyScope(scope),
            actor=COMMAND_LINE,
        )

    created, secret = run_in_database(work)
    emit_with_secret(created, secret, as_json=as_json)


@key.command("list")
@click.argument("email")
@_limit_option
@_after_option
@json_option
def key_list(email: str, limit: int | None, after: str | None, as_json: bool) -> None:
    """List a user's keys (never their secrets)."""

    async def work(conn: AsyncConnection) -> list[ApiKey]:
        user = await services.get_user_by_email(conn, email)
        return await services.keys_page(conn, _page(limit, after), user_id=user.id)

    emit_page(run_in_database(work), limit, KEY_COLUMNS, as_json=as_json)


@key.command("revoke")
@click.argument("key_id")
@json_option
def key_revoke(key_id: str, as_json: bool) -> None:
    """Revoke a key; every running server refuses it within a second."""

    async def work(conn: AsyncConnection) -> ApiKey:
        return await services.revoke_key(conn, key_id, actor=COMMAND_LINE)

    emit_one(run_in_database(work), as_json=as_json)
