"""An organization's alert rules, for its admins and for operators: the list with each
rule's state (ok or firing, and since when) and channels, a new rule (on cost, error
rate, latency or time to first token over a window, on the balance, or on the days the
balance lasts), turning one off or on, and deleting one after a confirmation page;
through the services behind `/api/orgs/{id}/alerts` and `/api/alerts/{id}`
(`alerts/services.py`), with their checks. A rule's own page, with its history, is in
`org_alert_history.py`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request, Response
from pydantic import TypeAdapter, ValidationError

from aisonar.accounts.services import administered_org
from aisonar.alerts.models import CHANNELS, PERCENTILES, SOURCES, AlertKind
from aisonar.alerts.services import (
    DEFAULT_FORECAST_WINDOW,
    DEFAULT_MIN_REQUESTS,
    DEFAULT_PERCENTILE,
    DEFAULT_WINDOW,
    NewRule,
    change_rule_of,
    create_rule_in,
    delete_rule_of,
    org_rule,
    rule_changes,
    rules_of,
    shown,
)
from aisonar.console.auth import invalid
from aisonar.console.csrf import checked_form
from aisonar.console.org import org_context, org_path
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput
from aisonar.i18n import N_
from aisonar.web.deps import Engine
from aisonar.web.deps import settings as configured

router = console_router()

_NEW_RULE = TypeAdapter(NewRule)
_FIELDS = (
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
)


def _blank_form() -> dict[str, Any]:
    return dict.fromkeys(_FIELDS, "") | {
        "kind": AlertKind.COST.value,
        "enabled": True,
        "channels": CHANNELS,
    }


async def _alerts_page(
    member: MemberVisit,
    db: Engine,
    org_id: str,
    *,
    typed: Mapping[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    async with db.connect() as conn:
        org = await administered_org(conn, member.principal, org_id)
        rules = [shown(rule) for rule in await rules_of(conn, member.principal, org.id)]
    context = {
        **org_context(org, "alerts"),
        "rules": rules,
        "kinds": list(AlertKind),
        "percentiles": PERCENTILES,
        "sources": SOURCES,
        "channels": CHANNELS,
        "defaults": {
            "forecast_window": DEFAULT_FORECAST_WINDOW,
            "window": DEFAULT_WINDOW,
            "percentile": DEFAULT_PERCENTILE,
            "min_requests": DEFAULT_MIN_REQUESTS,
        },
        "form": typed if typed is not None else _blank_form(),
        "error": error,
        # Without a mail server no rule is told by email, whatever its channels say.
        "mails": bool(configured(member.request).smtp_url),
    }
    return page(member, "org_alerts.html", context, status=status)


@router.get("/console/orgs/{org_id}/alerts")
async def alerts_page(member: Member, db: Engine, org_id: str) -> Response:
    return await _alerts_page(member, db, org_id)


@router.post("/console/orgs/{org_id}/alerts")
async def create(request: Request, member: Member, db: Engine, org_id: str) -> Response:
    """`POST /api/orgs/{id}/alerts`: an empty field takes the API's default."""
    form = await checked_form(request, member)
    typed: dict[str, Any] = {name: form.text(name) for name in _FIELDS}
    typed["enabled"] = form.checked("enabled")
    typed["channels"] = tuple(form.values("channels"))
    try:
        new = _NEW_RULE.validate_python(
            {
                **{name: typed[name] or None for name in _FIELDS if name != "name"},
                "name": typed["name"],
                "enabled": typed["enabled"],
                "channels": typed["channels"],
            }
        )
        async with db.begin() as conn:
            settings = new.settings()
            await create_rule_in(conn, member.principal, member.actor, org_id, settings)
    except ValidationError as error:
        message = error_text(invalid(error), member.language)
        return await _alerts_page(member, db, org_id, typed=typed, error=message, status=400)
    except AISonarError as error:
        if error.status == 404:
            raise
        message = error_text(error, member.language)
        return await _alerts_page(
            member, db, org_id, typed=typed, error=message, status=error.status
        )
    return see_other(org_path(org_id, "alerts"))


@router.post("/console/orgs/{org_id}/alerts/{alert_id}/enabled")
async def switch(
    request: Request, member: Member, db: Engine, org_id: str, alert_id: str
) -> Response:
    """`PATCH /api/alerts/{id}` with `enabled` (`yes` or `no`): a firing rule turned off
    goes back to ok without a notice."""
    form = await checked_form(request, member)
    choice = form.text("enabled")
    if choice not in ("yes", "no"):
        raise InvalidInput(N_("enabled: yes or no"), param="enabled")
    changes = rule_changes({"enabled": choice == "yes"})
    async with db.begin() as conn:
        await org_rule(conn, member.principal, org_id, alert_id)
        await change_rule_of(conn, member.principal, member.actor, alert_id, changes)
    return see_other(org_path(org_id, "alerts"))


@router.get("/console/orgs/{org_id}/alerts/{alert_id}/delete")
async def confirm_deletion(member: Member, db: Engine, org_id: str, alert_id: str) -> Response:
    async with db.connect() as conn:
        org, rule = await org_rule(conn, member.principal, org_id, alert_id)
    context = {**org_context(org, "alerts"), "rule": shown(rule)}
    return page(member, "org_alert_delete.html", context)


@router.post("/console/orgs/{org_id}/alerts/{alert_id}/delete")
async def delete(
    request: Request, member: Member, db: Engine, org_id: str, alert_id: str
) -> Response:
    """`DELETE /api/alerts/{id}`."""
    await checked_form(request, member)
    async with db.begin() as conn:
        await org_rule(conn, member.principal, org_id, alert_id)
        await delete_rule_of(conn, member.principal, member.actor, alert_id)
    return see_other(org_path(org_id, "alerts"))
