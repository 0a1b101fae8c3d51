"""The operators' prices and markups: a model's billed price and where it comes from (the
operator's own or the catalogue's), as `GET /api/prices/{model}` answers; the operator's
own prices, and setting one as `PUT /api/prices/{model}` does (a price is never removed
through the API: a new one replaces it); the markups of the plans and organizations (of
the newest 50 organizations with one whose name contains the search, never all), set as
`PUT /api/plans/{plan}/markup` and `PUT /api/orgs/{id}/markup` do. Only operators."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from aisonar.accounts import services as accounts
from aisonar.accounts.services import list_plans
from aisonar.billing import services as billing
from aisonar.channels.models import DEFAULT_BASE_URLS
from aisonar.console.csrf import checked_form
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.validation import invalid
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput
from aisonar.i18n import N_
from aisonar.web.deps import Config, Engine, operator

router = console_router()
_PRICE = TypeAdapter(billing.PriceSetting)
_MARKUP = TypeAdapter(accounts.MarkupSetting)

PRICES_PATH = "/console/operator/prices"
MARKUPS_SHOWN = 50
_PRICE_FIELDS = ("model", "input", "output", "cached_input", "cache_write")
_LABELS: Mapping[str, str] = {
    "input": N_("Input"),
    "output": N_("Output"),
    "cached_input": N_("Cached input"),
    "cache_write": N_("Cache write"),
    "multiplier": N_("Multiplier"),
    "plan": N_("Plan"),
    "org_id": N_("Organization"),
}
_NO_MODEL = N_("Name the model.")
_NO_ORG = N_("Choose an organization.")


async def _prices_page(
    member: MemberVisit,
    db: Engine,
    settings: Config,
    model: str,
    provider: str,
    *,
    org_search: str = "",
    typed: Mapping[str, Mapping[str, str]] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    await operator(member.principal)
    found: billing.BilledPrice | None = None
    missing = None
    given = typed or {}
    org_form = given.get("org_markup", {"org_id": "", "multiplier": ""})
    async with db.connect() as conn:
        if model:
            try:
                found = await billing.billed_price(conn, model, provider)
            except AISonarError as error:
                missing = error_text(error, member.language)
        own = await billing.list_operator_prices(conn)
        marks = await accounts.plan_markups(conn)
        org_marks, more_marks = await accounts.org_markups(conn, org_search, MARKUPS_SHOWN)
        plans = await list_plans(conn)
        choices = await accounts.org_choices(conn, org_search, {org_form["org_id"]})
    shown_price = {"model": model, "input": "", "output": "", "cached_input": "", "cache_write": ""}
    if found is not None:
        shown_price |= {name: getattr(found, name) for name in _PRICE_FIELDS if name != "model"}
    context: dict[str, Any] = {
        "model": model,
        "provider": provider,
        "providers": sorted(DEFAULT_BASE_URLS),
        "found": found,
        "missing": missing,
        "own": own,
        "markups": marks + org_marks,
        "more_markups": more_marks,
        "plans": plans,
        "choices": choices,
        "org_search": org_search,
        "price_form": given.get("price", shown_price),
        "plan_form": given.get("plan_markup", {"plan": "", "multiplier": ""}),
        "org_form": org_form,
        "errors": errors or {},
        "saved": member.request.query_params.get("saved", ""),
        "currency": settings.currency,
    }
    return page(member, "operator_prices.html", context, status=status)


@router.get(PRICES_PATH)
async def prices_page(
    member: Member,
    db: Engine,
    settings: Config,
    model: Annotated[str, Query(max_length=200)] = "",
    provider: Annotated[str, Query(max_length=64)] = "openai",
    org_search: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """A model's billed price if one is named; the markups, their organizations' form
    offering those `org_search` finds by name."""
    return await _prices_page(
        member,
        db,
        settings,
        model.strip(),
        provider.strip() or "openai",
        org_search=org_search.strip(),
    )


async def _refused(
    member: MemberVisit,
    db: Engine,
    settings: Config,
    form_name: str,
    typed: Mapping[str, str],
    failure: ValidationError | AISonarError,
) -> Response:
    """The prices page again, with `form_name`'s typed values and the failure's text."""
    error = invalid(failure, _LABELS) if isinstance(failure, ValidationError) else failure
    return await _prices_page(
        member,
        db,
        settings,
        "",
        "openai",
        typed={form_name: typed},
        errors={form_name: error_text(error, member.language)},
        status=error.status,
    )


@router.post(PRICES_PATH)
async def set_price(request: Request, member: Member, db: Engine, settings: Config) -> Response:
    """`PUT /api/prices/{model}`: credits per million tokens; the cached-input and
    cache-write prices default to the input price."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in _PRICE_FIELDS}
    try:
        if not typed["model"]:
            raise InvalidInput(_NO_MODEL, param="model")
        body = _PRICE.validate_python(
            {
                "input": typed["input"],
                "output": typed["output"],
                "cached_input": typed["cached_input"] or None,
                "cache_write": typed["cache_write"] or None,
            }
        )
        async with db.begin() as conn:
            price = await billing.set_price(
                conn,
                typed["model"],
                input=body.input,
                output=body.output,
                cached_input=body.cached_input,
                cache_write=body.cache_write,
                actor=member.actor,
            )
    except (ValidationError, AISonarError) as failure:
        return await _refused(member, db, settings, "price", typed, failure)
    query = urlencode({"model": price.model, "saved": "price"})
    return see_other(f"{PRICES_PATH}?{query}")


@router.post(PRICES_PATH + "/plan-markup")
async def set_plan_markup(
    request: Request, member: Member, db: Engine, settings: Config
) -> Response:
    """`PUT /api/plans/{plan}/markup`."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = {"plan": form.text("plan"), "multiplier": form.text("multiplier")}
    try:
        body = _MARKUP.validate_python({"multiplier": typed["multiplier"]})
        async with db.begin() as conn:
            await accounts.set_plan_markup(conn, typed["plan"], body.multiplier, actor=member.actor)
    except (ValidationError, AISonarError) as failure:
        return await _refused(member, db, settings, "plan_markup", typed, failure)
    return see_other(f"{PRICES_PATH}?saved=markup#markups")


@router.post(PRICES_PATH + "/org-markup")
async def set_org_markup(
    request: Request, member: Member, db: Engine, settings: Config
) -> Response:
    """`PUT /api/orgs/{id}/markup`: on top of its plan's."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = {"org_id": form.text("org_id"), "multiplier": form.text("multiplier")}
    try:
        if not typed["org_id"]:
            raise InvalidInput(_NO_ORG, param="org_id")
        body = _MARKUP.validate_python({"multiplier": typed["multiplier"]})
        async with db.begin() as conn:
            org = await accounts.get_org(conn, typed["org_id"])
            await accounts.set_org_markup(conn, org.name, body.multiplier, actor=member.actor)
    except (ValidationError, AISonarError) as failure:
        return await _refused(member, db, settings, "org_markup", typed, failure)
    return see_other(f"{PRICES_PATH}?saved=markup#markups")
