"""`aisonar notice list`: what people will be told about."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import get_org_by_name
from aisonar.cli.context import json_option, run_in_database
from aisonar.cli.output import emit
from aisonar.notify.services import Notice, list_notices


@click.group()
def notice() -> None:
    """Notices (low balance, ...)."""


@notice.command("list")
@click.option("--org", "org_name", help="Only this organization's.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@json_option
def notice_list(org_name: str | None, limit: int, as_json: bool) -> None:
    """The newest notices first."""

    async def work(conn: AsyncConnection) -> list[Notice]:
        org_id = (await get_org_by_name(conn, org_name)).id if org_name else None
        return await list_notices(conn, org_id, limit=limit)

    emit(run_in_database(work), ("id", "org_id", "kind", "data", "created_at"), as_json=as_json)
