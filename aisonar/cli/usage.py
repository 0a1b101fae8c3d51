"""`aisonar usage ...`: usage records."""

from __future__ import annotations

import sys

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import get_org_by_name, get_user_by_email
from aisonar.cli.context import parse_time, run_in_database
from aisonar.exports import EXPORT_FORMATS
from aisonar.usage.export import export_usage


@click.group()
def usage() -> None:
    """Usage records."""


@usage.command("export")
@click.option("--org", "org_name", help="Only this organization.")
@click.option("--user", "email", help="Only this user.")
@click.option("--since", help="From this time (ISO 8601, inclusive).")
@click.option("--until", help="Up to this time (ISO 8601, exclusive).")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv")
def usage_export(
    org_name: str | None, email: str | None, since: str | None, until: str | None, fmt: str
) -> None:
    """Write usage events to standard output, streamed."""
    since_at, until_at = parse_time(since, "--since"), parse_time(until, "--until")

    async def work(conn: AsyncConnection) -> None:
        org_id = (await get_org_by_name(conn, org_name)).id if org_name else None
        user_id = (await get_user_by_email(conn, email)).id if email else None
        async for chunk in export_usage(
            conn, fmt=fmt, org_id=org_id, user_id=user_id, since=since_at, until=until_at
        ):
            sys.stdout.write(chunk)
        sys.stdout.flush()

    run_in_database(work)
