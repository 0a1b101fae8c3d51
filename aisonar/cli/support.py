"""`aisonar support list|show|reply|close`: people's support requests, answered by the
operator at the command line (audited as `command line`). An answer reaches the person
as a `support_reply` notice, sent by the running servers' notifier."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, run_in_database
from aisonar.cli.output import as_record, emit, emit_one
from aisonar.support import services as support
from aisonar.support.models import SupportRequest, SupportStatus, SupportThread

REQUEST_COLUMNS = ("id", "user_id", "org_id", "status", "subject", "updated_at")


def _show(thread: SupportThread, *, as_json: bool) -> None:
    """The request, then each message (with --json, one object with its messages)."""
    if as_json:
        emit_one(thread, as_json=True)
        return
    record = as_record(thread)
    emit_one({key: value for key, value in record.items() if key != "messages"}, as_json=False)
    for message in thread.messages:
        author = message.author_role.value
        if message.author_user_id is not None:
            author += f" {message.author_user_id}"
        click.echo(f"\n--- {message.created_at.isoformat()}  {author}")
        click.echo(message.body)


@click.group("support")
def support_group() -> None:
    """People's support requests: read, answer and close them."""


@support_group.command("list")
@click.option("--status", type=click.Choice([status.value for status in SupportStatus]))
@json_option
def support_list(status: str | None, as_json: bool) -> None:
    """Support requests, the most recently active first."""

    async def work(conn: AsyncConnection) -> list[SupportRequest]:
        chosen = None if status is None else SupportStatus(status)
        return await support.list_requests(conn, status=chosen)

    emit(run_in_database(work), REQUEST_COLUMNS, as_json=as_json)


@support_group.command("show")
@click.argument("request_id")
@json_option
def support_show(request_id: str, as_json: bool) -> None:
    """A request and its messages, oldest first."""

    async def work(conn: AsyncConnection) -> SupportThread:
        return await support.get_thread(conn, request_id)

    _show(run_in_database(work), as_json=as_json)


@support_group.command("reply")
@click.argument("request_id")
@click.option("--message", required=True, help="The answer; the person reads it.")
@json_option
def support_reply(request_id: str, message: str, as_json: bool) -> None:
    """Answer a request as the operator (a closed one opens again); the person is told,
    with the answer, by the channels their notification settings choose."""

    async def work(conn: AsyncConnection) -> SupportThread:
        return await support.reply(conn, request_id, message, actor=COMMAND_LINE)

    _show(run_in_database(work), as_json=as_json)


@support_group.command("close")
@click.argument("request_id")
@json_option
def support_close(request_id: str, as_json: bool) -> None:
    """Close a request; the person can no longer write in it (they open a new one)."""

    async def work(conn: AsyncConnection) -> SupportThread:
        return await support.close_request(conn, request_id, actor=COMMAND_LINE)

    _show(run_in_database(work), as_json=as_json)
