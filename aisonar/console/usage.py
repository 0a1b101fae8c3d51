"""The usage log: the person's requests, newest first, filterable by model, status, end
user and session, a page at a time; metadata only (`usage/log.py`). The filtered log
downloads as CSV or JSON Lines (oldest first) through the export `GET /api/me/usage`
streams: the person's own events, as the API scopes them."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Response
from fastapi.responses import StreamingResponse

from aisonar.analytics.services import Filters, GroupBy, summarize, window
from aisonar.console.render import page
from aisonar.console.routing import console_router
from aisonar.console.visit import Member
from aisonar.errors import InvalidInput
from aisonar.exports.services import ExportFormat
from aisonar.i18n import N_
from aisonar.usage.services import STATUS_CLASSES, LogPosition, usage_log
from aisonar.web.deps import Config, ReadEngine
from aisonar.web.downloads import usage_export

router = console_router()

USAGE_PATH = "/console/usage"
EXPORT_PATH = USAGE_PATH + "/export"
# The formats the page offers (the API also streams Parquet).
PAGE_FORMATS = (ExportFormat.CSV, ExportFormat.JSONL)
PAGE_SIZE = 50
# Text without control characters (PostgreSQL refuses a NUL in a parameter).
_TEXT = r"^[^\x00-\x1f\x7f]*$"


@router.get(USAGE_PATH)
async def usage_page(
    member: Member,
    db: ReadEngine,
    settings: Config,
    model: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=1)] = "",
    end_user: Annotated[str, Query(max_length=200, pattern=_TEXT)] = "",
    session: Annotated[str, Query(max_length=128, pattern=_TEXT)] = "",
    after: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    person = member.principal
    since, until = window(None, None)
    async with db.connect() as conn:
        found = await usage_log(
            conn,
            person.user_id,
            model=model or None,
            status_class=status or None,
            end_user=end_user or None,
            session_id=session or None,
            after=LogPosition.decode(after) if after else None,
            limit=PAGE_SIZE,
        )
        used = await summarize(
            conn,
            Filters(since=since, until=until, org_id=person.org_id, user_id=person.user_id),
            GroupBy.MODEL,
        )
    models = sorted({entry.group for entry in used} | ({model} if model else set()))
    filters = {"model": model, "status": status, "end_user": end_user, "session": session}
    next_page = (
        None
        if found.next is None
        else USAGE_PATH + "?" + urlencode({**filters, "after": found.next.encode()})
    )
    context = {
        "log": found.requests,
        "models": models,
        "statuses": STATUS_CLASSES,
        "filters": filters,
        "next_page": next_page,
        "first_page": USAGE_PATH + "?" + urlencode(filters) if after else None,
        "export_formats": PAGE_FORMATS,
        "currency": settings.currency,
    }
    return page(member, "usage.html", context)


@router.get(EXPORT_PATH)
async def export_usage_log(
    member: Member,
    db: ReadEngine,
    format: ExportFormat = ExportFormat.CSV,
    model: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=1)] = "",
    end_user: Annotated[str, Query(max_length=200, pattern=_TEXT)] = "",
    session: Annotated[str, Query(max_length=128, pattern=_TEXT)] = "",
) -> StreamingResponse:
    """The log's filter, every page of it, streamed as a download."""
    if status and status not in STATUS_CLASSES:
        raise InvalidInput(N_("the status is 2, 4 or 5"), param="status")
    return usage_export(
        db,
        format,
        user_id=member.principal.user_id,
        requested_model=model or None,
        status_class=status or None,
        end_user=end_user or None,
        session_id=session or None,
    )
