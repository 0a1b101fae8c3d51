"""The operators' redemption codes: making a batch (amount, how many, last day) through the
same function as `POST /api/codes`, its codes shown once on the page that answers the
form (only their hashes are kept) with a CSV file of them; the batches, newest first,
with how many codes were redeemed and how many can still be; and revoking a batch after
a confirmation page (its unredeemed codes expire at once; audited). The API keeps no
note with a batch. Only operators."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from aisonar.billing import services as billing
from aisonar.console.csrf import checked_form
from aisonar.console.keys import expiry
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.validation import invalid
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError
from aisonar.exports.services import SpreadsheetWriter
from aisonar.i18n import N_
from aisonar.web.deps import Config, Engine, operator

router = console_router()
_ORDER = TypeAdapter(billing.CodeOrder)

CODES_PATH = "/console/operator/codes"
PAGE_SIZE = 50
_FIELDS = ("amount", "count", "expires")
_LABELS: Mapping[str, str] = {
    "amount": N_("Amount"),
    "count": N_("How many codes"),
    "expires_at": N_("Last day they can be redeemed"),
}


def codes_csv(batch: billing.CodeBatch) -> str:
    """The batch as a CSV file's text: one code a line, with its amount and expiry."""
    out = io.StringIO()
    writer = SpreadsheetWriter(out)
    writer.writerow(["code", "amount", "expires_at", "batch"])
    expires = batch.expires_at.isoformat() if batch.expires_at else ""
    for code in batch.codes:
        writer.writerow([code, batch.amount, expires, batch.batch])
    return out.getvalue()


async def _codes_page(
    member: MemberVisit,
    db: Engine,
    settings: Config,
    after: str | None,
    *,
    typed: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    await operator(member.principal)
    async with db.connect() as conn:
        batches = await billing.list_batches(conn, limit=PAGE_SIZE + 1, after=after)
    shown = batches[:PAGE_SIZE]
    older = urlencode({"after": shown[-1].batch}) if len(batches) > PAGE_SIZE else None
    context = {
        "batches": shown,
        "next_page": f"{CODES_PATH}?{older}" if older else None,
        "first_page": CODES_PATH if after is not None else None,
        "typed": typed or {"amount": "", "count": "10", "expires": ""},
        "error": error,
        "revoked": member.request.query_params.get("revoked", ""),
        "currency": settings.currency,
    }
    return page(member, "operator_codes.html", context, status=status)


@router.get(CODES_PATH)
async def codes_page(
    member: Member,
    db: Engine,
    settings: Config,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The batches, newest first, a page at a time: `after` a batch, the older ones."""
    return await _codes_page(member, db, settings, after)


@router.post(CODES_PATH)
async def create_batch(request: Request, member: Member, db: Engine, settings: Config) -> Response:
    """`POST /api/codes`: the codes, shown on this answer only."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in _FIELDS}
    try:
        order = _ORDER.validate_python(
            {
                "amount": typed["amount"],
                "count": typed["count"] or "1",
                "expires_at": expiry(typed["expires"]),
            }
        )
        async with db.begin() as conn:
            batch = await billing.create_codes(
                conn,
                amount=order.amount,
                count=order.count,
                expires_at=order.expires_at,
                actor=member.actor,
            )
    except (ValidationError, AISonarError) as failure:
        error = invalid(failure, _LABELS) if isinstance(failure, ValidationError) else failure
        message = error_text(error, member.language)
        return await _codes_page(
            member, db, settings, None, typed=typed, error=message, status=error.status
        )
    context = {
        "batch": batch,
        "csv_href": "data:text/csv;charset=utf-8," + quote(codes_csv(batch)),
        "csv_name": f"{batch.batch}.csv",
        "currency": settings.currency,
    }
    return page(member, "operator_codes_created.html", context, status=201)


@router.get(CODES_PATH + "/{batch}/revoke")
async def confirm_revocation(member: Member, db: Engine, settings: Config, batch: str) -> Response:
    await operator(member.principal)
    async with db.connect() as conn:
        standing = await billing.get_batch(conn, batch)
    context = {"standing": standing, "currency": settings.currency}
    return page(member, "operator_codes_revoke.html", context)


@router.post(CODES_PATH + "/{batch}/revoke")
async def revoke(request: Request, member: Member, db: Engine, batch: str) -> Response:
    """Every code of the batch not yet redeemed expires now."""
    await operator(member.principal)
    await checked_form(request, member)
    async with db.begin() as conn:
        await billing.revoke_batch(conn, batch, actor=member.actor)
    return see_other(f"{CODES_PATH}?{urlencode({'revoked': batch})}")
