"""The operators' organizations and plans: every organization (searched by name, a page at
a time) with its plan, balance, members and spend this month; creating one as
`POST /api/orgs` does; an organization's settings page (plan, its own raw-usage
retention, the models its keys may use; its low-balance threshold is on its limits page,
`org.py`) through the service behind `PATCH /api/orgs/{id}` (`accounts/organizations.py`);
and the plans with their retention, as `/api/plans`. Only operators: anyone else gets the
API's 403. The API has no way to disable an organization (its members are disabled one by
one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from aisonar.accounts import services as accounts
from aisonar.accounts.models import Plan
from aisonar.accounts.services import (
    NewOrg,
    OrgSettings,
    Page,
    PlanRetention,
    change_org_settings,
    list_plans,
    set_plan_retention,
)
from aisonar.analytics.services import Filters, GroupBy, summaries_of, window
from aisonar.console.csrf import checked_form
from aisonar.console.keys import model_names
from aisonar.console.org import month_start, org_path
from aisonar.console.paging import pager
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.unknown_pages import NO_PAGE
from aisonar.console.validation import invalid
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, NotFound
from aisonar.i18n import N_
from aisonar.usage import services as usage
from aisonar.web.balances import balance_of
from aisonar.web.deps import Config, Engine, Services, operator

router = console_router()

ORGS_PATH = "/console/operator/orgs"
PLANS_PATH = "/console/operator/plans"
PAGE_SIZE = 25
# The labels of these forms' own fields, for the API's validation messages.
ORG_LABELS: Mapping[str, str] = {
    "plan": N_("Plan"),
    "models": N_("Models"),
    "retention_days": N_("Raw usage kept (days)"),
    "dimension_properties": N_("Properties to roll usage up by"),
}
_SECTIONS = ("plan", "retention", "models", "dimensions")
_NEW_ORG = TypeAdapter(NewOrg)
_SETTINGS = TypeAdapter(OrgSettings)
_RETENTION = TypeAdapter(PlanRetention)


def operator_org_path(org_id: str) -> str:
    return f"{ORGS_PATH}/{org_id}"


# The list, and creating an organization.


async def _orgs_page(
    member: MemberVisit,
    running: Services,
    settings: Config,
    search: str,
    number: int,
    *,
    typed: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """Every organization whose name contains `search` (any case), newest first."""
    await operator(member.principal)
    _, until = window(None, None)
    newest_first = Page(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, newest_first=True)
    async with running.engine.connect() as conn:
        count = await accounts.count_orgs(conn, name=search)
        shown = [org for org, _ in await accounts.orgs_page(conn, newest_first, name=search)]
        ids = [org.id for org in shown]
        month = Filters(since=month_start(until), until=until, org_ids=tuple(ids))
        spend = await summaries_of(conn, month, GroupBy.ORG, ids)
        members = await accounts.member_counts(conn, ids)
    rows: list[dict[str, Any]] = [
        {"org": org, "spend": spend[org.id], "members": members[org.id]} for org in shown
    ]
    for row in rows:
        row["balance"] = await balance_of(running.engine, running.billing.store, row["org"].id)
    context = {
        "rows": rows,
        "count": count,
        "search": search,
        "pages": pager(ORGS_PATH, {"q": search}, number, count, PAGE_SIZE),
        "plans": list(Plan),
        "typed": typed or {"name": "", "plan": Plan.FREE.value, "models": ""},
        "error": error,
        "currency": settings.currency,
    }
    return page(member, "operator_orgs.html", context, status=status)


@router.get(ORGS_PATH)
async def orgs_page(
    member: Member,
    running: Services,
    settings: Config,
    q: Annotated[str, Query(max_length=200)] = "",
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    return await _orgs_page(member, running, settings, q.strip(), number)


@router.post(ORGS_PATH)
async def create_org(
    request: Request, member: Member, running: Services, settings: Config
) -> Response:
    """`POST /api/orgs`: its name, plan and, optionally, the models its keys may use."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in ("name", "plan", "models")}
    try:
        new = _NEW_ORG.validate_python(
            {
                "name": typed["name"],
                "plan": typed["plan"] or Plan.FREE.value,
                "models": model_names(typed["models"]),
            }
        )
        async with running.engine.begin() as conn:
            org = await accounts.add_org(conn, member.actor, new)
    except (ValidationError, AISonarError) as failure:
        error = invalid(failure, ORG_LABELS) if isinstance(failure, ValidationError) else failure
        message = error_text(error, member.language)
        return await _orgs_page(
            member, running, settings, "", 1, typed=typed, error=message, status=error.status
        )
    return see_other(operator_org_path(org.id))


# An organization's settings.


async def _org_page(
    member: MemberVisit,
    running: Services,
    settings: Config,
    org_id: str,
    *,
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    await operator(member.principal)
    async with running.engine.connect() as conn:
        org = await accounts.get_org(conn, org_id)
        models = await accounts.org_models(conn, org.id)
        plans = {plan.name: plan for plan in await list_plans(conn)}
        members = await accounts.count_users(conn, accounts.UserSearch(org_id=org.id))
    balance = await balance_of(running.engine, running.billing.store, org.id)
    current = {
        "plan": org.plan,
        "retention_days": "" if org.retention_days is None else str(org.retention_days),
        "models": ", ".join(models or []),
        "dimension_properties": ", ".join(org.dimension_properties),
    }
    context = {
        "org": org,
        "org_home": org_path(org.id),
        "plan": plans.get(org.plan),
        "plans": list(Plan),
        "models": models,
        "members": members,
        "balance": balance,
        "currency": settings.currency,
        "typed": {**current, **(typed or {})},
        "errors": errors or {},
        "done": member.request.query_params.get("changed") in _SECTIONS,
    }
    return page(member, "operator_org.html", context, status=status)


@router.get(ORGS_PATH + "/{org_id}")
async def org_page(member: Member, running: Services, settings: Config, org_id: str) -> Response:
    return await _org_page(member, running, settings, org_id)


def _change_of(section: str, typed: str) -> OrgSettings:
    """The change one form of the page asks for (`PATCH /api/orgs/{id}`'s)."""
    if section == "plan":
        return _SETTINGS.validate_python({"plan": typed})
    if section == "retention":
        if not typed:
            return OrgSettings(cleared=frozenset({"retention_days"}))
        return _SETTINGS.validate_python({"retention_days": typed})
    models = model_names(typed)
    return OrgSettings(models=models, cleared=frozenset() if models else frozenset({"models"}))


_FIELD_OF = {
    "plan": "plan",
    "retention": "retention_days",
    "models": "models",
    "dimensions": "dimension_properties",
}


@router.post(ORGS_PATH + "/{org_id}/{section}")
async def change_org(
    request: Request,
    member: Member,
    running: Services,
    settings: Config,
    org_id: str,
    section: str,
) -> Response:
    """One of the page's forms: the plan, the retention (empty: the plan's), the models
    (empty: every model), or the properties its usage is rolled up by (empty: none)."""
    await operator(member.principal)
    if section not in _FIELD_OF:
        raise NotFound(NO_PAGE, path=request.url.path)
    form = await checked_form(request, member)
    field = _FIELD_OF[section]
    value = form.text(field)
    try:
        async with running.engine.begin() as conn:
            if section == "dimensions":
                names = [name.strip() for name in value.split(",") if name.strip()]
                await usage.mark_properties(conn, member.actor, org_id, names)
            else:
                await change_org_settings(conn, member.actor, org_id, _change_of(section, value))
    except (ValidationError, AISonarError) as failure:
        error = invalid(failure, ORG_LABELS) if isinstance(failure, ValidationError) else failure
        if error.status == 404:
            raise error from None
        return await _org_page(
            member,
            running,
            settings,
            org_id,
            typed={field: value},
            errors={section: error_text(error, member.language)},
            status=error.status,
        )
    return see_other(f"{operator_org_path(org_id)}?changed={section}")


# Plans.


async def _plans_page(
    member: MemberVisit,
    db: Engine,
    *,
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    await operator(member.principal)
    async with db.connect() as conn:
        plans = await list_plans(conn)
        found = await accounts.plan_counts(conn)
    counts = {plan.name: found.get(plan.name, 0) for plan in plans}
    context = {
        "plans": plans,
        "counts": counts,
        "typed": typed or {},
        "errors": errors or {},
        "changed": member.request.query_params.get("changed", ""),
    }
    return page(member, "operator_plans.html", context, status=status)


@router.get(PLANS_PATH)
async def plans_page(member: Member, db: Engine) -> Response:
    return await _plans_page(member, db)


@router.post(PLANS_PATH + "/{plan}")
async def change_plan(request: Request, member: Member, db: Engine, plan: str) -> Response:
    """`PATCH /api/plans/{plan}`: the days its organizations' raw usage is kept."""
    await operator(member.principal)
    form = await checked_form(request, member)
    days = form.text("retention_days")
    try:
        retention = _RETENTION.validate_python({"retention_days": days})
        async with db.begin() as conn:
            await set_plan_retention(conn, plan, retention.retention_days, actor=member.actor)
    except (ValidationError, AISonarError) as failure:
        error = invalid(failure, ORG_LABELS) if isinstance(failure, ValidationError) else failure
        if error.status == 404:
            raise error from None
        message = error_text(error, member.language)
        return await _plans_page(
            member, db, typed={plan: days}, errors={plan: message}, status=error.status
        )
    return see_other(f"{PLANS_PATH}?{urlencode({'changed': plan})}")
