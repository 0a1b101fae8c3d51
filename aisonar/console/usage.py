"""The usage log: the person's requests, newest first, filterable by model and status,
a page at a time; metadata only (`usage/log.py`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Response

from aisonar.admin.deps import Config, Engine
from aisonar.analytics.summary import Filters, GroupBy, summarize, window
from aisonar.console.render import page
from aisonar.console.routing import console_router
from aisonar.console.visit import Member
from aisonar.usage.log import STATUS_CLASSES, LogPosition, usage_log

router = console_router()

USAGE_PATH = "/console/usage"
PAGE_SIZE = 50


@router.get(USAGE_PATH)
async def usage_page(
    member: Member,
    db: Engine,
    settings: Config,
    model: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=1)] = "",
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
            after=LogPosition.decode(after) if after else None,
            limit=PAGE_SIZE,
        )
        used = await summarize(
            conn,
            Filters(since=since, until=until, org_id=person.org_id, user_id=person.user_id),
            GroupBy.MODEL,
        )
    models = sorted({entry.group for entry in used} | ({model} if model else set()))
    filters = {"model": model, "status": status}
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
        "currency": settings.currency,
    }
    return page(member, "usage.html", context)
