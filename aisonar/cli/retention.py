"""`aisonar plan list|set` and `aisonar retention run`: how long raw usage is kept, per
plan, and deleting what is past it."""

from __future__ import annotations

import asyncio

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import PlanInfo, list_plans, set_plan_retention
from aisonar.alerts.services import forget_before
from aisonar.analytics.services import delete_views_before
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, load_settings, parse_time, run_in_database
from aisonar.cli.output import emit, emit_one
from aisonar.clock import utcnow
from aisonar.errors import AISonarError
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.usage.services import RetentionPolicy, RetentionReport, run_retention

PLAN_COLUMNS = ("name", "retention_days", "markup")


@click.group()
def plan() -> None:
    """Plans: raw usage retention (and markups, with `aisonar markup`)."""


@plan.command("list")
@json_option
def plan_list(as_json: bool) -> None:
    """Every plan with its retention in days and its markup."""
    emit(run_in_database(list_plans), PLAN_COLUMNS, as_json=as_json)


@plan.command("set")
@click.argument("name")
@click.option("--retention-days", type=click.IntRange(1, 3650), required=True)
@json_option
def plan_set(name: str, retention_days: int, as_json: bool) -> None:
    """Keep the raw usage events of the plan's organizations this many days (an
    organization's own window, `org update --retention-days`, comes first)."""

    async def work(conn: AsyncConnection) -> PlanInfo:
        return await set_plan_retention(conn, name, retention_days, actor=COMMAND_LINE)

    emit_one(run_in_database(work), as_json=as_json)


@click.group()
def retention() -> None:
    """Deleting usage data past its retention."""


async def _run(as_of_text: str | None) -> RetentionReport:
    settings = load_settings()
    as_of = parse_time(as_of_text, "--as-of") or utcnow()
    engine = create_engine(settings.resolved_database_url, **settings.engine_options())
    try:
        await upgrade_to_head(engine)
        return await run_retention(
            engine,
            as_of,
            RetentionPolicy.of(settings),
            forget_site_views=delete_views_before,
            forget_alert_history=forget_before,
            actor=COMMAND_LINE,
        )
    finally:
        await engine.dispose()


@retention.command("run")
@click.option("--as-of", "as_of", help="Judge age from this time (ISO 8601); default: now.")
@json_option
def retention_run(as_of: str | None, as_json: bool) -> None:
    """Delete raw usage events past their organization's window and rollups past theirs,
    in small batches; the ledger is kept. Prints what was deleted; audited."""
    try:
        report = asyncio.run(_run(as_of))
    except AISonarError as error:
        raise click.ClickException(error.message) from error
    emit_one(report.summary(), as_json=as_json)
