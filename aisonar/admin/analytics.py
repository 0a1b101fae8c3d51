"""Usage analytics from the rollups, scoped by role: a user sees their own usage, an org
admin their organization's, an operator everyone's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from aisonar.accounts.principal import Principal
from aisonar.admin.deps import Caller, Engine
from aisonar.admin.errors import Forbidden
from aisonar.analytics.summary import Filters, GroupBy, Summary, summarize, window
from aisonar.errors import NotFound
from aisonar.i18n import N_

router = APIRouter(prefix="/api/analytics", tags=["analytics"])


def scoped(
    caller: Principal, org_id: str | None, user_id: str | None
) -> tuple[str | None, str | None]:
    """The organization and user a caller may see usage of."""
    if caller.is_operator:
        return org_id, user_id
    if org_id not in (None, caller.org_id):
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    if caller.administers(caller.org_id):
        return caller.org_id, user_id
    if user_id not in (None, caller.user_id):
        raise Forbidden(N_("A user sees only their own usage."))
    return caller.org_id, caller.user_id


@router.get("/usage")
async def usage_summary(
    caller: Caller,
    db: Engine,
    by: Annotated[
        GroupBy, Query(description="A dimension, or minute|hour|day for a series.")
    ] = GroupBy.TOTAL,
    since: Annotated[datetime | None, Query(description="Default: 30 days before until.")] = None,
    until: Annotated[datetime | None, Query(description="Default: the end of today (UTC).")] = None,
    org_id: str | None = None,
    user_id: str | None = None,
    key_id: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    status: Annotated[str | None, Query(pattern="^[245]$", description="2, 4 or 5.")] = None,
    source: Annotated[str | None, Query(pattern="^(gateway|ingest|otel)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Summary]:
    """Totals, a breakdown (top N by cost) or a time series, read from the rollups:
    requests, errors and error rate, tokens, cost, latency and time-to-first-token
    average and p50/p90/p95/p99, output tokens per second."""
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
    )
    async with db.connect() as conn:
        found = await summarize(conn, filters, by, limit=limit)
    return found
