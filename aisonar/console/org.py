"""An organization's pages for its admins and for operators, reachable exactly as
`/api/orgs/{id}/...` decides (`accounts/access.py`'s `administered_org`: a member of the
organization is refused, anyone else finds nothing): the overview (balance and how long
it lasts at the current spend rate, as a forecast alert rule reads it, spend this month,
members, cost per day over 30 days, spend by member) and the limits (the
organization's own, what applies from its plan, and the low-balance threshold, in the
balance's currency, which only operators change, as `PATCH /api/orgs/{id}` and
`PATCH /api/limits/org/{id}` allow: its one place in the console). The members are in
`org_members.py`, the alert rules in `org_alerts.py`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.models import Organization
from aisonar.accounts.services import OrgSettings, UserSearch, administered_org, change_org_settings
from aisonar.alerts.services import recent_burn, shown_days
from aisonar.analytics.services import Filters, GroupBy, summarize, window
from aisonar.billing.services import durable_balance, format_amount
from aisonar.clock import utcnow
from aisonar.console.auth import invalid
from aisonar.console.csrf import Form, checked_form
from aisonar.console.dashboard import daily_costs
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError
from aisonar.i18n import N_
from aisonar.limits.models import DIMENSIONS, SPEND_DIMENSIONS, LimitChanges, Subject, SubjectKind
from aisonar.limits.services import (
    CLEAR_WORD,
    SubjectLimits,
    change_limits_of,
    limits_of,
    parse_changes,
)
from aisonar.web.analytics_scope import scoped
from aisonar.web.balances import balance_of
from aisonar.web.deps import Config, Engine, Services
from aisonar.web.deps import settings as configured
from aisonar.web.errors import Forbidden

router = console_router()

OWN_ORG_PATH = "/console/org"
_DAYS = 30
_TOP_MEMBERS = 20


def org_path(org_id: str, *parts: str) -> str:
    """An organization's console page: its overview, or a page under it."""
    return "/".join((f"/console/orgs/{org_id}", *parts))


def org_context(org: Organization, tab: str) -> dict[str, Any]:
    """What every page of an organization shows above its content."""
    return {"org": org, "tab": tab, "org_home": org_path(org.id)}


def month_start(until: datetime) -> datetime:
    """The first moment of the current UTC month, for a range ending at `until` (the end
    of today)."""
    return (until - timedelta(days=1)).replace(day=1)


@router.get(OWN_ORG_PATH)
async def own_org(member: Member, db: Engine) -> Response:
    """The signed-in admin's (or operator's) own organization."""
    async with db.connect() as conn:
        org = await administered_org(conn, member.principal, member.principal.org_id)
    return see_other(org_path(org.id))


@router.get("/console/orgs/{org_id}")
async def overview(member: Member, running: Services, settings: Config, org_id: str) -> Response:
    person = member.principal
    since, until = window(None, None)
    async with running.engine.connect() as conn:
        org = await administered_org(conn, person, org_id)
        scope, _ = scoped(person, org.id, None)

        def over(start: datetime) -> Filters:
            return Filters(since=start, until=until, org_id=scope)

        month = (await summarize(conn, over(month_start(until)), GroupBy.TOTAL))[0]
        series = await summarize(conn, over(since), GroupBy.DAY, limit=_DAYS)
        spenders = await summarize(conn, over(month_start(until)), GroupBy.USER, limit=_TOP_MEMBERS)
        members = await accounts.count_users(conn, UserSearch(org_id=org.id))
        active = await accounts.count_users(conn, UserSearch(org_id=org.id, state="active"))
        people = await accounts.members_by_id(conn, org.id, {found.group for found in spenders})
        forecast = await _forecast(conn, org.id)
    balance = await balance_of(running.engine, running.billing.store, org.id)
    costs = daily_costs(series, since, _DAYS)
    context = {
        **org_context(org, ""),
        "balance": balance,
        "forecast": forecast,
        "currency": settings.currency,
        "month": month,
        "members_count": members,
        "active_count": active,
        "costs": costs,
        "by_member": [(people.get(found.group), found) for found in spenders],
        "chart": {"labels": [day.day for day in costs], "values": [day.cost for day in costs]},
    }
    return page(member, "org_overview.html", context)


async def _forecast(conn: AsyncConnection, org_id: str) -> dict[str, Any] | None:
    """How many days the balance lasts at the last week's spend rate (None for days: it
    does not run out); None for an organization less than an hour old."""
    burn = await recent_burn(conn, org_id, utcnow())
    if burn is None:
        return None
    days = burn.days_left((await durable_balance(conn, org_id)).balance)
    return {"days": None if days is None else shown_days(days)}


# Limits: the form's fields, shared with a member's page.


def shown_limits(limits: SubjectLimits) -> dict[str, str]:
    """A subject's own limits as the form shows them (empty: no limit)."""
    values = limits.own
    return {
        dimension: "" if values[dimension] is None else str(values[dimension])
        for dimension in DIMENSIONS
    }


def typed_limits(form: Form) -> dict[str, str]:
    return {dimension: form.text(dimension) for dimension in DIMENSIONS}


def limit_changes(typed: Mapping[str, str], current: Mapping[str, str]) -> LimitChanges:
    """The changes a limits form asks for: each value that differs from the current one,
    and `none` for each limit emptied."""
    given: dict[str, str | None] = {}
    for dimension in DIMENSIONS:
        value, now = typed[dimension], current[dimension]
        if value == now:
            continue
        given[dimension] = value or CLEAR_WORD
    return parse_changes(**given)


def effective_rows(limits: SubjectLimits) -> list[dict[str, Any]]:
    """Every limit that applies, with the level it comes from."""
    return [
        {
            "dimension": entry.dimension,
            "limit": entry.limit,
            "level": entry.level,
            "spend": entry.dimension in SPEND_DIMENSIONS,
        }
        for entry in limits.effective
    ]


async def _limits_page(
    member: MemberVisit,
    db: Engine,
    org_id: str,
    *,
    typed: Mapping[str, str] | None = None,
    threshold: str | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with db.connect() as conn:
        org = await administered_org(conn, member.principal, org_id)
        limits = await limits_of(conn, member.principal, Subject(SubjectKind.ORG, org.id))
    context = {
        **org_context(org, "limits"),
        "limits": typed if typed is not None else shown_limits(limits),
        "effective": effective_rows(limits),
        "dimensions": DIMENSIONS,
        "threshold": threshold
        if threshold is not None
        else format_amount(org.low_balance_threshold),
        "operator": member.principal.is_operator,
        "currency": configured(member.request).currency,
        "errors": errors or {},
    }
    return page(member, "org_limits.html", context, status=status)


@router.get("/console/orgs/{org_id}/limits")
async def org_limits(member: Member, db: Engine, org_id: str) -> Response:
    return await _limits_page(member, db, org_id)


@router.post("/console/orgs/{org_id}/limits")
async def change_org_limits(request: Request, member: Member, db: Engine, org_id: str) -> Response:
    """`PATCH /api/limits/org/{id}`: operators only, as the API decides."""
    form = await checked_form(request, member)
    typed = typed_limits(form)
    subject = Subject(SubjectKind.ORG, org_id)
    try:
        async with db.begin() as conn:
            await administered_org(conn, member.principal, org_id)
            current = shown_limits(await limits_of(conn, member.principal, subject))
            changes = limit_changes(typed, current)
            await change_limits_of(conn, member.principal, member.actor, subject, changes)
    except AISonarError as error:
        if error.status in (403, 404):
            raise
        message = error_text(error, member.language)
        return await _limits_page(
            member, db, org_id, typed=typed, errors={"limits": message}, status=error.status
        )
    return see_other(org_path(org_id, "limits"))


@router.post("/console/orgs/{org_id}/limits/threshold")
async def change_threshold(request: Request, member: Member, db: Engine, org_id: str) -> Response:
    """`PATCH /api/orgs/{id}` with `low_balance_threshold`: operators only."""
    form = await checked_form(request, member)
    typed = form.text("low_balance_threshold")
    if not member.principal.is_operator:
        raise Forbidden(N_("Only an operator may do this."))
    try:
        change = OrgSettings(low_balance_threshold=typed)
        async with db.begin() as conn:
            await change_org_settings(conn, member.actor, org_id, change)
    except ValidationError as error:
        message = error_text(invalid(error), member.language)
        return await _limits_page(
            member, db, org_id, threshold=typed, errors={"threshold": message}, status=400
        )
    except AISonarError as error:
        if error.status == 404:
            raise
        message = error_text(error, member.language)
        return await _limits_page(
            member, db, org_id, threshold=typed, errors={"threshold": message}, status=error.status
        )
    return see_other(org_path(org_id, "limits"))
