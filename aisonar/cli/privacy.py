"""`aisonar privacy requests|approve|reject`: deciding people's requests to delete their
accounts. An approval without delay (`AISONAR_DELETION_ERASURE_DELAY_HOURS=0`) erases the
person before the command returns; otherwise the servers do it once due.
`aisonar privacy export`: everything held about a person, as a ZIP archive.
`aisonar privacy forget-end-user`: an application's end user cleared from usage events."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import BinaryIO

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import get_org_by_name, get_user_by_email
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, load_settings, run_in_database
from aisonar.cli.output import emit, emit_one
from aisonar.errors import AISonarError
from aisonar.exports.services import Exported, export_personal_data
from aisonar.notify.services import configured_mail
from aisonar.privacy.services import (
    DeletionRequest,
    DeletionStatus,
    approve_request,
    erase_request,
    forget_end_user,
    get_request,
    list_requests,
    reject_request,
)
from aisonar.store.engine import create_engine

REQUEST_COLUMNS = ("id", "user_id", "org_id", "status", "requested_at", "decided_by", "erase_after")


@click.group()
def privacy() -> None:
    """People's requests to delete their accounts, and exports of their data."""


@privacy.command("requests")
@click.option("--status", type=click.Choice([status.value for status in DeletionStatus]))
@json_option
def privacy_requests(status: str | None, as_json: bool) -> None:
    """Deletion requests, newest first (with --json, each decision and receipt too)."""

    async def work(conn: AsyncConnection) -> list[DeletionRequest]:
        return await list_requests(conn, status=None if status is None else DeletionStatus(status))

    emit(run_in_database(work), REQUEST_COLUMNS, as_json=as_json)


async def _erase_now(request_id: str) -> DeletionRequest:
    settings = load_settings()
    engine = create_engine(settings.resolved_database_url, **settings.engine_options())
    try:
        await erase_request(engine, configured_mail(settings), request_id)
        async with engine.connect() as conn:
            return await get_request(conn, request_id)
    finally:
        await engine.dispose()


@privacy.command("approve")
@click.argument("request_id")
@click.option("--reason", help="Why, for the record.")
@json_option
def privacy_approve(request_id: str, reason: str | None, as_json: bool) -> None:
    """Approve a request: the person's data is erased after the configured delay (at
    once by default), and they are mailed a receipt."""
    delay = timedelta(hours=load_settings().deletion_erasure_delay_hours)

    async def work(conn: AsyncConnection) -> DeletionRequest:
        return await approve_request(
            conn, request_id, reason=reason, delay=delay, actor=COMMAND_LINE
        )

    approved = run_in_database(work)
    if not delay:
        try:
            approved = asyncio.run(_erase_now(request_id))
        except AISonarError as error:
            raise click.ClickException(error.message) from error
    emit_one(approved, as_json=as_json)


@privacy.command("reject")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why; the person is told.")
@json_option
def privacy_reject(request_id: str, reason: str, as_json: bool) -> None:
    """Reject a request with a reason the person is told; their account stays disabled
    until an operator enables it (`aisonar user update EMAIL --enable`)."""

    async def work(conn: AsyncConnection) -> DeletionRequest:
        return await reject_request(conn, request_id, reason=reason, actor=COMMAND_LINE)

    emit_one(run_in_database(work), as_json=as_json)


@privacy.command("forget-end-user")
@click.option("--org", "org_name", required=True, help="The organization whose application it is.")
@click.argument("end_user")
@json_option
def privacy_forget_end_user(org_name: str, end_user: str, as_json: bool) -> None:
    """Clear an end user of an organization's application from its usage events: their
    id, and the sessions and properties of their requests."""

    async def work(conn: AsyncConnection) -> dict[str, int]:
        org = await get_org_by_name(conn, org_name)
        return {"events": await forget_end_user(conn, COMMAND_LINE, org.id, end_user)}

    emit_one(run_in_database(work), as_json=as_json)


async def _export(email: str, file: BinaryIO, conn: AsyncConnection) -> list[str]:
    exported = Exported(await get_user_by_email(conn, email), confidential=True)
    return await export_personal_data(conn, exported, file, actor=COMMAND_LINE)


@privacy.command("export")
@click.argument("email")
@click.option(
    "--out",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The ZIP file to write.",
)
def privacy_export(email: str, out: Path) -> None:
    """Write everything held about a person to a ZIP archive, as they download it
    themselves (`GET /api/me/export`), support conversations included. Audited."""
    try:
        with out.open("wb") as file:
            files = run_in_database(partial(_export, email, file))
    except BaseException:
        # Nothing half-written is left behind.
        out.unlink(missing_ok=True)
        raise
    click.echo(f"wrote {out} ({len(files)} files)")
