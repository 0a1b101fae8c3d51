"""`aisonar usage export|summary`: usage records, and what they add up to."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import get_org_by_name, get_user_by_email
from aisonar.analytics.services import Filters, GroupBy, Summary, property_filter, summarize, window
from aisonar.cli.context import json_option, parse_time, run_in_database
from aisonar.cli.exports import check_destination, export_options, write_export
from aisonar.cli.output import emit
from aisonar.exports.services import export_usage


@click.group()
def usage() -> None:
    """Usage records."""


@usage.command("export")
@click.option("--org", "org_name", help="Only this organization.")
@click.option("--user", "email", help="Only this user.")
@click.option("--since", help="From this time (ISO 8601, inclusive).")
@click.option("--until", help="Up to this time (ISO 8601, exclusive).")
@export_options(default_format="csv")
def usage_export(
    org_name: str | None,
    email: str | None,
    since: str | None,
    until: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Write usage events to standard output or a file, streamed."""
    check_destination(fmt, output)
    since_at, until_at = parse_time(since, "--since"), parse_time(until, "--until")

    async def work(conn: AsyncConnection) -> None:
        org_id = (await get_org_by_name(conn, org_name)).id if org_name else None
        user_id = (await get_user_by_email(conn, email)).id if email else None
        await write_export(
            export_usage(
                conn, fmt=fmt, org_id=org_id, user_id=user_id, since=since_at, until=until_at
            ),
            output,
        )

    run_in_database(work)


SUMMARY_COLUMNS = (
    "group",
    "requests",
    "error_rate",
    "input_tokens",
    "output_tokens",
    "cost",
    "latency_ms_p50",
    "latency_ms_p95",
    "ttft_ms_p50",
    "output_tokens_per_s",
)


@usage.command("summary")
@click.option("--org", "org_name", help="Only this organization.")
@click.option("--user", "email", help="Only this user.")
@click.option(
    "--by",
    type=click.Choice([group.value for group in GroupBy]),
    default=GroupBy.TOTAL.value,
    help="A dimension (top N by cost), or minute|hour|day for a series.",
)
@click.option("--since", help="From this time (ISO 8601); default: 30 days before --until.")
@click.option("--until", help="Up to this time (ISO 8601); default: the end of today, UTC.")
@click.option("--end-user", help="Only this end user (x-aisonar-user, or the body's user).")
@click.option("--session", "session_id", help="Only this session (x-aisonar-session-id).")
@click.option("--property", "property_text", metavar="NAME=VALUE", help="Only this property value.")
@click.option("--property-name", help="The property --by property groups by.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@json_option
def usage_summary(
    org_name: str | None,
    email: str | None,
    by: str,
    since: str | None,
    until: str | None,
    end_user: str | None,
    session_id: str | None,
    property_text: str | None,
    property_name: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Requests, errors, tokens, cost, latency and time-to-first-token percentiles and
    output tokens per second, from the rollups (from the raw events when grouped or
    filtered by end user, session or property)."""
    start, end = window(parse_time(since, "--since"), parse_time(until, "--until"))

    async def work(conn: AsyncConnection) -> list[Summary]:
        org_id = (await get_org_by_name(conn, org_name)).id if org_name else None
        user_id = (await get_user_by_email(conn, email)).id if email else None
        property_equals = None if property_text is None else property_filter(property_text)
        filters = Filters(
            since=start,
            until=end,
            org_id=org_id,
            user_id=user_id,
            end_user=end_user,
            session_id=session_id,
            property_equals=property_equals,
            property_name=property_name,
        )
        return await summarize(conn, filters, GroupBy(by), limit=limit)

    found = run_in_database(work)
    emit(found, SUMMARY_COLUMNS, as_json=as_json)
