"""Usage analytics from the rollups, scoped by role: a user sees their own usage, an org
admin their organization's, an operator everyone's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from aisonar.analytics.services import Filters, GroupBy, Summary, property_filter, summarize, window
from aisonar.web.analytics_scope import scoped
from aisonar.web.deps import Caller, ReadEngine

router = APIRouter(prefix="/api/analytics", tags=["analytics"])
# Text without control characters (PostgreSQL refuses a NUL in a parameter).
_TEXT = r"^[^\x00-\x1f\x7f]*$"


@router.get("/usage")
async def usage_summary(
    caller: Caller,
    db: ReadEngine,
    by: Annotated[
        GroupBy, Query(description="A dimension, or minute|hour|day for a series.")
    ] = GroupBy.TOTAL,
    since: Annotated[datetime | None, Query(description="Default: 30 days before until.")] = None,
    until: Annotated[datetime | None, Query(description="Default: the end of today (UTC).")] = None,
    org_id: Annotated[str | None, Query(pattern=_TEXT)] = None,
    user_id: Annotated[str | None, Query(pattern=_TEXT)] = None,
    key_id: Annotated[str | None, Query(pattern=_TEXT)] = None,
    model: Annotated[str | None, Query(pattern=_TEXT)] = None,
    provider: Annotated[str | None, Query(pattern=_TEXT)] = None,
    status: Annotated[str | None, Query(pattern="^[245]$", description="2, 4 or 5.")] = None,
    source: Annotated[str | None, Query(pattern="^(gateway|ingest|otel)$")] = None,
    end_user: Annotated[str | None, Query(max_length=200, pattern=_TEXT)] = None,
    session_id: Annotated[str | None, Query(max_length=128, pattern=_TEXT)] = None,
    property: Annotated[
        str | None,
        Query(max_length=400, pattern=_TEXT, description="name=value: a custom property's value."),
    ] = None,
    property_name: Annotated[
        str | None,
        Query(max_length=64, pattern=_TEXT, description="The property a by=property is by."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Summary]:
    """Totals, a breakdown (top N by cost) or a time series, read from the rollups:
    requests, errors and error rate, tokens, cost, latency and time-to-first-token
    average and p50/p90/p95/p99, output tokens per second. Grouping or filtering by end
    user, session or property reads the raw events of the range instead."""
    start, end = window(since, until)
    org, user = scoped(caller, org_id, user_id)
    filters = Filters(
        since=start,
        until=end,
        org_id=org,
        user_id=user,
        key_id=key_id,
        model=model,
        provider=provider,
        status_class=status,
        source=source,
        end_user=end_user,
        session_id=session_id,
        property_equals=None if property is None else property_filter(property),
        property_name=property_name,
    )
    async with db.connect() as conn:
        found = await summarize(conn, filters, by, limit=limit)
    return found
