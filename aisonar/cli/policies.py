"""`aisonar policy publish|list`: the privacy policy and terms, as versioned documents. A
material change (the default) is announced to every active person before the command
returns."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, load_settings, run_in_database
from aisonar.cli.output import as_record, emit, emit_one
from aisonar.errors import AISonarError
from aisonar.privacy.services import Policy, PolicyKind, announce, list_policies, publish_policy
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head

POLICY_COLUMNS = ("id", "kind", "version", "title", "material", "published_at", "published_by")
_KINDS = click.Choice([kind.value for kind in PolicyKind])


def _summary(policy: Policy) -> dict[str, Any]:
    """A version without its text (`GET /api/policies/{kind}` has it)."""
    record = as_record(policy)
    del record["body"]
    return record


@click.group()
def policy() -> None:
    """The privacy policy and terms people read, acknowledge and accept."""


async def _publish(kind: PolicyKind, body: str, title: str | None, material: bool) -> Policy:
    settings = load_settings()
    settings.make_data_dir()
    engine = create_engine(settings.resolved_database_url, **settings.engine_options())
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            published = await publish_policy(
                conn, kind, body, title=title, material=material, actor=COMMAND_LINE
            )
        if material:
            count = await announce(engine, published)
            click.echo(f"Announced to {count} people.", err=True)
        return published
    finally:
        await engine.dispose()


@policy.command("publish")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=_KINDS, required=True)
@click.option("--title", help='Default: "Privacy policy" or "Terms of service".')
@click.option(
    "--minor",
    is_flag=True,
    help="Not a material change: nobody is notified or asked to acknowledge it again.",
)
@json_option
def policy_publish(file: Path, kind: str, title: str | None, minor: bool, as_json: bool) -> None:
    """Publish FILE (Markdown, UTF-8) as the next version of the privacy policy or the
    terms."""
    try:
        body = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{file} is not UTF-8 text") from error
    try:
        published = asyncio.run(_publish(PolicyKind(kind), body, title, not minor))
    except AISonarError as error:
        raise click.ClickException(error.message) from error
    emit_one(_summary(published), as_json=as_json)


@policy.command("list")
@click.option("--kind", type=_KINDS)
@json_option
def policy_list(kind: str | None, as_json: bool) -> None:
    """Every published version, newest first (without the text)."""
    wanted = None if kind is None else PolicyKind(kind)
    found = run_in_database(lambda conn: list_policies(conn, wanted))
    emit([_summary(policy) for policy in found], POLICY_COLUMNS, as_json=as_json)
