"""`aisonar alert create|list|update|delete|history`: rules on an organization's cost,
error rate, latency, balance or balance forecast; its admins hear by the rule's channels
when one starts firing and when it resolves, and each firing stays in its history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import get_org_by_name
from aisonar.alerts import services as alerts
from aisonar.alerts.models import (
    PERCENTILES,
    SOURCES,
    AlertKind,
    AlertRule,
    Firing,
    RuleSettings,
)
from aisonar.alerts.services import firings
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, run_in_database
from aisonar.cli.output import as_record, emit, emit_one
from aisonar.web.ids import MAX_ROW_ID

F = TypeVar("F", bound=Callable[..., Any])
ALERT_COLUMNS = (
    "id",
    "org_id",
    "name",
    "kind",
    "threshold",
    "window",
    "percentile",
    "min_requests",
    "model",
    "source",
    "end_user",
    "property",
    "enabled",
    "channels",
    "state",
    "state_changed_at",
)
FIRING_COLUMNS = (
    "id",
    "rule_id",
    "fired_at",
    "observed",
    "threshold",
    "resolved_at",
    "resolved_observed",
    "channels",
    "notified",
)


def _channels(
    context: click.Context, parameter: click.Parameter, value: str | None
) -> tuple[str, ...] | None:
    """email,inbox,webhook or some of them (the rule checks which)."""
    return None if value is None else tuple(part.strip() for part in value.split(","))


def _rule_options(required: bool) -> Callable[[F], F]:
    """The options `create` and `update` share."""
    options = (
        click.option(
            "--threshold",
            required=required,
            help="Credits (cost, balance), a fraction or percentage (error_rate: 0.05 or 5%), "
            "whole milliseconds (latency, ttft), whole days (forecast).",
        ),
        click.option(
            "--window",
            help="15m, 2h, 7d: 1 minute to 7 days (default 15m; forecast: the spend rate's, 7d).",
        ),
        click.option("--percentile", type=click.Choice(PERCENTILES), help="Default p95."),
        click.option(
            "--min-requests",
            type=click.IntRange(1, alerts.MAX_MIN_REQUESTS),
            help="Fewer requests in the window leave the rule as it is (default 20).",
        ),
        click.option("--model", help="Only this requested model's usage counts."),
        click.option("--source", type=click.Choice(SOURCES), help="Only this source's usage."),
        click.option("--end-user", help="Only this end user's usage (X-AISonar-User, ...)."),
        click.option("--property", help="Only usage with this custom property: name=value."),
        click.option("--name", help="A label, shown in its notices."),
        click.option(
            "--channels",
            callback=_channels,
            help="How its notices go: email, inbox, webhook, comma-separated (default: all).",
        ),
    )

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@click.group()
def alert() -> None:
    """Alert rules: cost, error rate, latency percentile, balance or balance forecast, per
    organization, and their firing history."""


@alert.command("create")
@click.argument("org_name")
@click.option("--kind", required=True, type=click.Choice([kind.value for kind in AlertKind]))
@_rule_options(required=True)
@json_option
def alert_create(org_name: str, kind: str, as_json: bool, **given: Any) -> None:
    """Add a rule to an organization; it starts ok and is evaluated every
    AISONAR_ALERT_INTERVAL_S."""
    chosen = {name: value for name, value in given.items() if value is not None}

    async def work(conn: AsyncConnection) -> AlertRule:
        org = await get_org_by_name(conn, org_name)
        settings = RuleSettings(kind=AlertKind(kind), **chosen)
        return await alerts.create_rule(conn, org.id, settings, actor=COMMAND_LINE)

    emit_one(alerts.shown(run_in_database(work)), as_json=as_json)


@alert.command("list")
@click.option("--org", "org_name", help="One organization's rules (default: every one's).")
@json_option
def alert_list(org_name: str | None, as_json: bool) -> None:
    """Rules with their state (ok or firing) and when it last changed."""

    async def work(conn: AsyncConnection) -> list[AlertRule]:
        org_id = None if org_name is None else (await get_org_by_name(conn, org_name)).id
        return await alerts.list_rules(conn, org_id)

    emit([alerts.shown(rule) for rule in run_in_database(work)], ALERT_COLUMNS, as_json=as_json)


@alert.command("update")
@click.argument("rule_id")
@_rule_options(required=False)
@click.option("--enable/--disable", "enabled", default=None, help="Evaluate it or not.")
@json_option
def alert_update(rule_id: str, as_json: bool, **given: Any) -> None:
    """Change the given settings of a rule; disabling a firing rule sets it back to ok."""
    changes = {name: value for name, value in given.items() if value is not None}
    if not changes:
        raise click.UsageError("give at least one setting to change")

    async def work(conn: AsyncConnection) -> AlertRule:
        return await alerts.update_rule(conn, rule_id, changes, actor=COMMAND_LINE)

    emit_one(alerts.shown(run_in_database(work)), as_json=as_json)


@alert.command("delete")
@click.argument("rule_id")
@json_option
def alert_delete(rule_id: str, as_json: bool) -> None:
    """Delete a rule; it raises no more notices."""

    async def work(conn: AsyncConnection) -> AlertRule:
        return await alerts.delete_rule(conn, rule_id, actor=COMMAND_LINE)

    emit_one(alerts.shown(run_in_database(work)), as_json=as_json)


def _shown_firing(firing: Firing, *, as_json: bool) -> dict[str, Any]:
    record = as_record(firing)
    if not as_json:  # one cell: whom each notice reached and how it went
        record["notified"] = [
            f"{told.notice} {told.channel} {told.to} {told.status}" for told in firing.notified
        ]
    return record


@alert.command("history")
@click.option("--rule", "rule_id", help="One rule's firings.")
@click.option("--org", "org_name", help="One organization's (default: every one's).")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option(
    "--before-id", type=click.IntRange(1, MAX_ROW_ID), help="Only firings older than this one."
)
@json_option
def alert_history(
    rule_id: str | None, org_name: str | None, limit: int, before_id: int | None, as_json: bool
) -> None:
    """Each time a rule fired, newest first: the measure and threshold then, when it
    resolved, and whom its notices reached (pending, delivered or failed)."""

    async def work(conn: AsyncConnection) -> list[Firing]:
        if rule_id is not None:
            await alerts.get_rule(conn, rule_id)
        org_id = None if org_name is None else (await get_org_by_name(conn, org_name)).id
        return await firings(conn, rule_id=rule_id, org_id=org_id, before_id=before_id, limit=limit)

    shown = [_shown_firing(firing, as_json=as_json) for firing in run_in_database(work)]
    emit(shown, FIRING_COLUMNS, as_json=as_json)
