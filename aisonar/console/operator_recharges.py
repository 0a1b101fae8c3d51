"""The operators' recharges: topping up an organization's prepaid balance through the
function behind `POST /api/orgs/{id}/recharges` (one append-only ledger credit, audited,
then the live balance), after a confirmation page that shows the organization and the
amount. The confirmation carries an idempotency key, so a form sent twice credits once.
The recent recharges are the audit log's `balance.recharge` entries, as
`GET /api/audit?action=balance.recharge` lists them, newest first, a page at a time.
The API offers no adjustments or refunds. Only operators."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from aisonar.accounts import services as accounts
from aisonar.audit.services import list_entries
from aisonar.billing.services import LedgerKind, Recharge, entry_by_id, parse_amount, recharge_org
from aisonar.console.csrf import Form, checked_form
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.validation import invalid
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput
from aisonar.i18n import N_
from aisonar.web.deps import Config, Services, operator
from aisonar.web.ids import MAX_LEDGER_ENTRY_ID, RowId, written_id

router = console_router()
_RECHARGE = TypeAdapter(Recharge)

RECHARGES_PATH = "/console/operator/recharges"
PAGE_SIZE = 50
RECHARGE_ACTION = f"balance.{LedgerKind.RECHARGE}"
_FIELDS = ("org_id", "amount", "note", "reference")
_LABELS: Mapping[str, str] = {
    "org_id": N_("Organization"),
    "amount": N_("Amount"),
    "note": N_("Note"),
    "reference": N_("Reference"),
}
_NO_ORG = N_("Choose an organization.")


async def _recharges_page(
    member: MemberVisit,
    running: Services,
    settings: Config,
    org_id: str,
    before: int | None,
    *,
    org_search: str = "",
    typed: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    await operator(member.principal)
    done = written_id(member.request.query_params.get("done", ""), MAX_LEDGER_ENTRY_ID)
    typed = typed or {"org_id": org_id, "amount": "", "note": "", "reference": ""}
    async with running.engine.connect() as conn:
        choices = await accounts.org_choices(conn, org_search, {org_id, typed["org_id"]})
        entries = await list_entries(
            conn,
            action=RECHARGE_ACTION,
            org_id=org_id or None,
            before_id=before,
            limit=PAGE_SIZE + 1,
        )
        credited = await entry_by_id(conn, done) if done is not None else None
        named = {entry.org_id for entry in entries if entry.org_id}
        names = await accounts.org_names(conn, named | ({credited.org_id} if credited else set()))
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    rows = [
        {
            "entry": entry,
            "org": names.get(entry.org_id or "", entry.org_id),
            "amount": _created(entry.changes, "amount"),
            "note": _created(entry.changes, "reason"),
            "reference": _created(entry.changes, "reference"),
        }
        for entry in entries
    ]
    kept = {
        name: value for name, value in (("org_id", org_id), ("org_search", org_search)) if value
    }
    context = {
        "choices": choices,
        "org_search": org_search,
        "org_id": org_id,
        "rows": rows,
        "next_page": (
            f"{RECHARGES_PATH}?{urlencode({**kept, 'before': entries[-1].id})}" if more else None
        ),
        "first_page": f"{RECHARGES_PATH}?{urlencode(kept)}" if before is not None else None,
        "credited": credited if credited and credited.kind == LedgerKind.RECHARGE else None,
        "credited_org": names.get(credited.org_id, "") if credited else "",
        "typed": typed,
        "error": error,
        "currency": settings.currency,
    }
    return page(member, "operator_recharges.html", context, status=status)


def _created(changes: Mapping[str, Any], field: str) -> Any:
    """The value an audit entry's `created` change recorded for `field`."""
    pair = changes.get(field)
    return pair[1] if isinstance(pair, list) and len(pair) == 2 else None


@router.get(RECHARGES_PATH)
async def recharges_page(
    member: Member,
    running: Services,
    settings: Config,
    org_id: Annotated[str, Query(max_length=64)] = "",
    before: Annotated[RowId | None, Query()] = None,
    org_search: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The recent recharges (of one organization if asked), and the top-up form, whose
    organizations are those `org_search` finds by name."""
    found = org_search.strip()
    return await _recharges_page(member, running, settings, org_id, before, org_search=found)


def _typed(form: Form) -> dict[str, str]:
    return {name: form.text(name) for name in _FIELDS}


async def _checked(running: Services, typed: Mapping[str, str], key: str | None) -> Any:
    """The organization and the `POST /api/orgs/{id}/recharges` body the form asks for;
    the API's refusals of them."""
    body = _RECHARGE.validate_python(
        {
            "amount": typed["amount"],
            "note": typed["note"] or "recharge",
            "reference": typed["reference"] or None,
            "idempotency_key": key,
        }
    )
    parse_amount(body.amount)
    if not typed["org_id"]:
        raise InvalidInput(_NO_ORG, param="org_id")
    async with running.engine.connect() as conn:
        org = await accounts.get_org(conn, typed["org_id"])
    return org, body


async def _refused(
    member: MemberVisit,
    running: Services,
    settings: Config,
    typed: Mapping[str, str],
    failure: ValidationError | AISonarError,
) -> Response:
    error = invalid(failure, _LABELS) if isinstance(failure, ValidationError) else failure
    message = error_text(error, member.language)
    return await _recharges_page(
        member, running, settings, "", None, typed=typed, error=message, status=error.status
    )


@router.post(RECHARGES_PATH)
async def confirm_recharge(
    request: Request, member: Member, running: Services, settings: Config
) -> Response:
    """The confirmation page: the organization and amount the form asks to credit."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = _typed(form)
    try:
        org, body = await _checked(running, typed, None)
    except (ValidationError, AISonarError) as failure:
        return await _refused(member, running, settings, typed, failure)
    context = {
        "org": org,
        "units": parse_amount(body.amount),
        "typed": typed,
        "note": body.note,
        "reference": body.reference,
        "idempotency_key": "console-" + secrets.token_urlsafe(18),
        "currency": settings.currency,
    }
    return page(member, "operator_recharge_confirm.html", context)


@router.post(RECHARGES_PATH + "/confirmed")
async def recharge(
    request: Request, member: Member, running: Services, settings: Config
) -> Response:
    """`POST /api/orgs/{id}/recharges`, with the confirmation's idempotency key."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = _typed(form)
    key = form.text("idempotency_key")[:200] or None
    try:
        org, body = await _checked(running, typed, key)
        store = running.billing.store
        credited = await recharge_org(running.engine, store, member.actor, org.id, body)
    except (ValidationError, AISonarError) as failure:
        return await _refused(member, running, settings, typed, failure)
    query = urlencode({"org_id": org.id, "done": credited.id})
    return see_other(f"{RECHARGES_PATH}?{query}")
