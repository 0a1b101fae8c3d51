"""`aisonar limits set|show`: rate limits and spend quotas per plan, organization, user
and key, and for each end user of an organization."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import COMMAND_LINE
from aisonar.billing.services import format_amount
from aisonar.cli.context import json_option, run_in_database
from aisonar.cli.output import emit, emit_one
from aisonar.clock import utcnow
from aisonar.errors import InvalidInput
from aisonar.limits.models import (
    DIMENSIONS,
    SPEND_DIMENSIONS,
    EffectiveLimits,
    LimitSet,
    SubjectKind,
)
from aisonar.limits.services import (
    CLEAR_WORD,
    ResolvedSubject,
    effective_limits_for,
    get_limits,
    parse_changes,
    resolve_subject,
    set_limits,
    spent_this_period,
)

F = TypeVar("F", bound=Callable[..., Any])
EFFECTIVE_COLUMNS = ("dimension", "limit", "spent", "level", "subject")

_SUBJECT_OPTIONS = (
    ("--org", "org", "NAME", "An organization, by name."),
    ("--user", "user", "EMAIL", "A user, by email."),
    ("--key", "key", "KEY_ID", "An API key, by id."),
    ("--plan", "plan", "PLAN", "The default for every organization on a plan."),
)

_LIMIT_OPTIONS = (
    ("--rpm", "rpm", "N", "Requests per minute."),
    ("--tpm", "tpm", "N", "Tokens per minute, input plus output."),
    ("--concurrent", "concurrent", "N", "Requests in flight at once."),
    ("--daily-spend", "daily_spend", "X", "Credits per UTC calendar day (a decimal, 12.50)."),
    ("--monthly-spend", "monthly_spend", "X", "Credits per UTC calendar month."),
)


def subject_options(command: F) -> F:
    command = click.option(
        "--each-end-user",
        is_flag=True,
        help="With --org: each end user of its application (x-aisonar-user), counted apart.",
    )(command)
    for flag, dest, metavar, text in reversed(_SUBJECT_OPTIONS):
        command = click.option(flag, dest, metavar=metavar, help=text)(command)
    return command


def limit_options(command: F) -> F:
    for flag, dest, metavar, text in reversed(_LIMIT_OPTIONS):
        command = click.option(
            flag,
            dest,
            metavar=f"{metavar}|{CLEAR_WORD}",
            help=f"{text} `{CLEAR_WORD}` removes the limit.",
        )(command)
    return command


def _one_subject(each_end_user: bool, **given: str | None) -> tuple[str, str]:
    chosen = [(kind, value) for kind, value in given.items() if value is not None]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --org, --user, --key and --plan")
    if not each_end_user:
        return chosen[0]
    kind, value = chosen[0]
    if kind != "org":
        raise click.UsageError("--each-end-user goes with --org")
    return str(SubjectKind.END_USER), value


def _value(dimension: str, value: int | None) -> int | str | None:
    if value is None or dimension not in SPEND_DIMENSIONS:
        return value
    return format_amount(value)


def _own(resolved: ResolvedSubject, limits: LimitSet) -> dict[str, Any]:
    return {
        "subject": str(resolved.subject.kind),
        "id": resolved.subject.id,
        "name": resolved.label,
        **{dimension: _value(dimension, limits.get(dimension)) for dimension in DIMENSIONS},
    }


async def _effective(conn: AsyncConnection, effective: EffectiveLimits) -> list[dict[str, Any]]:
    """Every limit that applies; a spend quota with what its subject has spent in the
    current period, as recorded (requests in flight are not in it yet)."""
    now = utcnow()
    rows = []
    for dimension, value, level in effective.entries():
        spent = None
        # A plan shown on its own counts per organization, and end-user limits per end
        # user: no one subject has spent.
        per_subject = level.counted.kind not in (SubjectKind.PLAN, SubjectKind.END_USER)
        if dimension in SPEND_DIMENSIONS and per_subject:
            spent = format_amount(await spent_this_period(conn, level.counted, dimension, now))
        rows.append(
            {
                "dimension": dimension,
                "limit": _value(dimension, value),
                "spent": spent,
                "level": str(level.source.kind),
                "subject": level.label,
                "subject_id": level.source.id,
            }
        )
    return rows


@click.group()
def limits() -> None:
    """Rate limits and spend quotas."""


@limits.command("set")
@subject_options
@limit_options
@json_option
def limits_set(
    org: str | None,
    user: str | None,
    key: str | None,
    plan: str | None,
    each_end_user: bool,
    rpm: str | None,
    tpm: str | None,
    concurrent: str | None,
    daily_spend: str | None,
    monthly_spend: str | None,
    as_json: bool,
) -> None:
    """Set (or with `none`, remove) limits of one subject; the others stay as they are."""
    kind, reference = _one_subject(each_end_user, org=org, user=user, key=key, plan=plan)
    try:
        changes = parse_changes(
            rpm=rpm,
            tpm=tpm,
            concurrent=concurrent,
            daily_spend=daily_spend,
            monthly_spend=monthly_spend,
        )
    except InvalidInput as error:
        raise click.UsageError(error.message) from None
    if changes.is_empty():
        raise click.UsageError(
            "give at least one of --rpm, --tpm, --concurrent, --daily-spend, --monthly-spend"
        )

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        resolved = await resolve_subject(conn, kind, reference)
        return _own(resolved, await set_limits(conn, resolved.subject, changes, actor=COMMAND_LINE))

    emit_one(run_in_database(work), as_json=as_json)


@limits.command("show")
@subject_options
@json_option
def limits_show(
    org: str | None,
    user: str | None,
    key: str | None,
    plan: str | None,
    each_end_user: bool,
    as_json: bool,
) -> None:
    """A subject's own limits, and every limit that applies to it and where it is set."""
    kind, reference = _one_subject(each_end_user, org=org, user=user, key=key, plan=plan)

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        resolved = await resolve_subject(conn, kind, reference)
        own = _own(resolved, await get_limits(conn, resolved.subject))
        effective = await effective_limits_for(conn, resolved.subject)
        return {**own, "effective": await _effective(conn, effective)}

    shown = run_in_database(work)
    if as_json:
        click.echo(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
        return
    effective = shown.pop("effective")
    emit_one(shown, as_json=False)
    click.echo("")
    click.echo("applies (each is checked on its own; the tightest decides):")
    emit(effective, EFFECTIVE_COLUMNS, as_json=False)
