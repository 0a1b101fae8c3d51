"""`aisonar audit list|export`: the audit log of administrative and security actions."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import get_org_by_name
from aisonar.audit.models import AuditEntry
from aisonar.audit.services import list_entries
from aisonar.cli.context import json_option, parse_time, run_in_database
from aisonar.cli.exports import check_destination, export_options, write_export
from aisonar.cli.output import emit
from aisonar.exports.services import export_audit

AUDIT_COLUMNS = ("id", "at", "actor", "ip", "action", "object_kind", "object_id", "changes")


@click.group()
def audit() -> None:
    """The audit log: who did what, to which object, when, from where."""


_org_option = click.option("--org", "org_name", help="Only this organization's entries.")
_since_option = click.option("--since", help="From this time (ISO 8601, inclusive).")
_until_option = click.option("--until", help="Up to this time (ISO 8601, exclusive).")


@audit.command("list")
@_org_option
@click.option("--action", help="Only this action, e.g. key.revoke.")
@_since_option
@_until_option
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@json_option
def audit_list(
    org_name: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The newest entries first."""
    since_at, until_at = parse_time(since, "--since"), parse_time(until, "--until")

    async def work(conn: AsyncConnection) -> list[AuditEntry]:
        org_id = (await get_org_by_name(conn, org_name)).id if org_name else None
        return await list_entries(
            conn, org_id=org_id, action=action, since=since_at, until=until_at, limit=limit
        )

    emit(run_in_database(work), AUDIT_COLUMNS, as_json=as_json)


@audit.command("export")
@_org_option
@_since_option
@_until_option
@export_options(default_format="jsonl")
def audit_export(
    org_name: str | None, since: str | None, until: str | None, fmt: str, output: Path | None
) -> None:
    """Write the audit log to standard output or a file, oldest first, streamed."""
    check_destination(fmt, output)
    since_at, until_at = parse_time(since, "--since"), parse_time(until, "--until")

    async def work(conn: AsyncConnection) -> None:
        org_id = (await get_org_by_name(conn, org_name)).id if org_name else None
        await write_export(
            export_audit(conn, fmt=fmt, org_id=org_id, since=since_at, until=until_at), output
        )

    run_in_database(work)
