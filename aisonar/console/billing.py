"""Billing: the balance of the person's organization (as `/api/me/balance` gives it), its
ledger newest first a page at a time, the ledger downloaded as `/api/me/ledger` streams
it (CSV, JSON Lines or Parquet, from a day on), and redeeming a code for the
organization through the function `POST /api/me/redeem` uses (failures throttled per
person). Every role reads its own organization's ledger, as the API lets it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.responses import StreamingResponse

from aisonar.billing.services import LedgerEntry, entry_by_id, recent_entries, recent_statements
from aisonar.console.csrf import checked_form
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput
from aisonar.exports.services import ExportFormat
from aisonar.gateway.recharge import redeem_for
from aisonar.i18n import N_
from aisonar.web.balances import balance_of
from aisonar.web.deps import Config, Services
from aisonar.web.downloads import ledger_export
from aisonar.web.ids import MAX_LEDGER_ENTRY_ID, LedgerEntryId, written_id

router = console_router()

BILLING_PATH = "/console/billing"
PAGE_SIZE = 50
# Monthly statements shown, this month first.
STATEMENT_MONTHS = 12
_CODE_MAX = 200


def since_day(value: str) -> datetime | None:
    """A day (`YYYY-MM-DD`) as its first moment, UTC; empty: from the beginning."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("the day is a date, YYYY-MM-DD"), param="since") from None
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


async def _redeemed(running: Services, member: MemberVisit, entry_id: str) -> LedgerEntry | None:
    """The redemption the form just made, to say what it credited; nothing for an entry
    of another organization or kind."""
    number = written_id(entry_id, MAX_LEDGER_ENTRY_ID)
    if number is None:
        return None
    async with running.engine.connect() as conn:
        entry = await entry_by_id(conn, number)
    if entry is None or entry.org_id != member.principal.org_id or entry.kind != "redemption":
        return None
    return entry


async def _billing_page(
    member: MemberVisit,
    running: Services,
    currency: str,
    *,
    before: int | None = None,
    redeemed: LedgerEntry | None = None,
    code: str = "",
    error: str | None = None,
    status: int = 200,
    retry_after: str | None = None,
) -> Response:
    org_id = member.principal.org_id
    balance = await balance_of(running.engine, running.billing.store, org_id)
    async with running.engine.connect() as conn:
        found = await recent_entries(conn, org_id, before_id=before, limit=PAGE_SIZE + 1)
        statements = await recent_statements(conn, org_id, STATEMENT_MONTHS)
    entries = found[:PAGE_SIZE]
    context: dict[str, Any] = {
        "balance": balance,
        "currency": currency,
        "entries": entries,
        "next_page": (
            f"{BILLING_PATH}?before={entries[-1].id}#ledger" if len(found) > PAGE_SIZE else None
        ),
        "first_page": f"{BILLING_PATH}#ledger" if before is not None else None,
        "redeemed": redeemed,
        "code": code,
        "error": error,
        "formats": list(ExportFormat),
        "statements": statements,
    }
    response = page(member, "billing.html", context, status=status)
    if retry_after is not None:
        response.headers["retry-after"] = retry_after
    return response


@router.get(BILLING_PATH)
async def billing_page(
    member: Member,
    running: Services,
    settings: Config,
    before: Annotated[LedgerEntryId | None, Query()] = None,
    redeemed: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return await _billing_page(
        member,
        running,
        settings.currency,
        before=before,
        redeemed=await _redeemed(running, member, redeemed) if redeemed else None,
    )


@router.post(BILLING_PATH + "/redeem")
async def redeem(request: Request, member: Member, running: Services, settings: Config) -> Response:
    """Credit the organization with the code's amount; an unknown, used or expired code
    changes nothing (and counts towards the hourly limit of failures)."""
    form = await checked_form(request, member)
    code = form.text("code")[:_CODE_MAX]
    person = member.principal
    try:
        if not code:
            raise InvalidInput(N_("type the code"), param="code")
        entry = await redeem_for(
            running,
            code,
            org_id=person.org_id,
            user_id=person.user_id,
            tries=f"console:{person.user_id}",
        )
    except AISonarError as error:
        return await _billing_page(
            member,
            running,
            settings.currency,
            code=code,
            error=error_text(error, member.language),
            status=error.status,
            retry_after=error.retry_after,
        )
    return see_other(f"{BILLING_PATH}?redeemed={entry.id}")


@router.get(BILLING_PATH + "/ledger")
async def download_ledger(
    member: Member,
    running: Services,
    format: ExportFormat = ExportFormat.CSV,
    since: Annotated[str, Query(max_length=10)] = "",
) -> StreamingResponse:
    """The organization's ledger, oldest first, streamed as `GET /api/me/ledger` does."""
    return ledger_export(running.read_engine, format, member.principal.org_id, since_day(since))
