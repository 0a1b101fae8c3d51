"""One alert rule's page, for the organization's admins and operators: its settings and
state, the channels its notices go by (changed as `PATCH /api/alerts/{id}` changes them),
and its firing history newest first, as `GET /api/alerts/{id}/history` gives it: when it
fired and resolved, the measure and threshold, and whom each notice reached."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from aisonar.alerts.models import CHANNELS
from aisonar.alerts.services import change_rule_of, history_of, org_rule, rule_changes, shown
from aisonar.console.csrf import checked_form
from aisonar.console.org import org_context, org_path
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import InvalidInput
from aisonar.web.deps import Engine
from aisonar.web.ids import RowId

router = console_router()

PAGE_SIZE = 50


async def _rule_page(
    member: MemberVisit,
    db: Engine,
    org_id: str,
    alert_id: str,
    before: int | None,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    async with db.connect() as conn:
        org, rule = await org_rule(conn, member.principal, org_id, alert_id)
        found = await history_of(
            conn, member.principal, rule.id, before_id=before, limit=PAGE_SIZE + 1
        )
    here = org_path(org.id, "alerts", rule.id)
    context = {
        **org_context(org, "alerts"),
        "rule": shown(rule),
        "channels": CHANNELS,
        "firings": found[:PAGE_SIZE],
        "older": f"{here}?before={found[PAGE_SIZE - 1].id}" if len(found) > PAGE_SIZE else None,
        "newest": here if before is not None else None,
        "error": error,
    }
    return page(member, "org_alert.html", context, status=status)


@router.get("/console/orgs/{org_id}/alerts/{alert_id}")
async def rule_page(
    member: Member,
    db: Engine,
    org_id: str,
    alert_id: str,
    before: Annotated[RowId | None, Query()] = None,
) -> Response:
    return await _rule_page(member, db, org_id, alert_id, before)


@router.post("/console/orgs/{org_id}/alerts/{alert_id}/channels")
async def change_channels(
    request: Request, member: Member, db: Engine, org_id: str, alert_id: str
) -> Response:
    """`PATCH /api/alerts/{id}` with `channels`: one or more."""
    form = await checked_form(request, member)
    try:
        changes = rule_changes({"channels": tuple(form.values("channels"))})
        async with db.begin() as conn:
            await org_rule(conn, member.principal, org_id, alert_id)
            await change_rule_of(conn, member.principal, member.actor, alert_id, changes)
    except InvalidInput as error:
        message = error_text(error, member.language)
        return await _rule_page(member, db, org_id, alert_id, None, error=message, status=400)
    return see_other(org_path(org_id, "alerts", alert_id))
