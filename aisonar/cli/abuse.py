"""`aisonar abuse detect` and `aisonar abuse findings list|dismiss|confirm`: the
operator's review queue of abuse findings at the command line (audited as `command
line`). Confirming a key finding revokes the key."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.abuse import services as abuse
from aisonar.abuse.models import Decision, Finding, FindingKind, FindingStatus
from aisonar.accounts.services import Page
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, load_settings, run_in_database, run_with_engine
from aisonar.cli.output import emit, emit_one

COLUMNS = ("id", "kind", "status", "org_id", "subject_kind", "subject_id", "detected_at")


@click.group("abuse")
def abuse_group() -> None:
    """Abuse detection: shared keys, key scans, credential stuffing."""


@abuse_group.command("detect")
@json_option
def abuse_detect(as_json: bool) -> None:
    """Look for abuse now, as each server does every AISONAR_ABUSE_INTERVAL_S; prints the
    new findings."""
    settings = load_settings()

    async def work(engine: AsyncEngine) -> list[Finding]:
        return await abuse.detect_now(engine, settings)

    emit(run_with_engine(work), COLUMNS, as_json=as_json)


@abuse_group.group("findings")
def findings_group() -> None:
    """The findings: list them, dismiss or confirm one."""


@findings_group.command("list")
@click.option("--status", type=click.Choice([status.value for status in FindingStatus]))
@click.option("--kind", type=click.Choice([kind.value for kind in FindingKind]))
@click.option("--org-id", help="Only this organization's.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@json_option
def findings_list(
    status: str | None, kind: str | None, org_id: str | None, limit: int, as_json: bool
) -> None:
    """Findings, newest first, with their evidence under --json."""

    async def work(conn: AsyncConnection) -> list[Finding]:
        return await abuse.list_findings(
            conn,
            org_id=org_id,
            status=None if status is None else FindingStatus(status),
            kind=None if kind is None else FindingKind(kind),
            page=Page(limit=limit),
        )

    emit(run_in_database(work), COLUMNS, as_json=as_json)


def _review(finding_id: str, decision: Decision, as_json: bool) -> None:
    async def work(conn: AsyncConnection) -> Finding:
        return await abuse.review(conn, finding_id, decision, COMMAND_LINE)

    emit_one(run_in_database(work), as_json=as_json)


@findings_group.command("dismiss")
@click.argument("finding_id")
@json_option
def findings_dismiss(finding_id: str, as_json: bool) -> None:
    """The use was legitimate: close the finding, leave the key as it is."""
    _review(finding_id, Decision.DISMISS, as_json)


@findings_group.command("confirm")
@click.argument("finding_id")
@json_option
def findings_confirm(finding_id: str, as_json: bool) -> None:
    """Abuse it was: close the finding and revoke a key finding's key."""
    _review(finding_id, Decision.CONFIRM, as_json)
