"""`POST /api/retention/run`, for operators: what `aisonar retention run` does, deleting
the usage data past its retention now rather than at the next background run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, ConfigDict

from aisonar.alerts.services import forget_before
from aisonar.analytics.services import delete_views_before
from aisonar.clock import as_utc, utcnow
from aisonar.usage.services import RetentionPolicy, run_retention
from aisonar.web.deps import Acting, Config, Engine, Operator

router = APIRouter(prefix="/api/retention", tags=["retention"])


def _in_utc(moment: datetime) -> datetime:
    """Naive times are UTC, as on the command line."""
    try:
        return as_utc(moment)
    except OverflowError as error:
        raise ValueError("out of range once in UTC") from error


class RetentionRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Judge age from this time (ISO 8601); default: now.
    as_of: Annotated[datetime, AfterValidator(_in_utc)] | None = None


class RetentionRunOut(BaseModel):
    as_of: datetime
    # Raw usage events deleted, in all, and in how many organizations.
    events_deleted: int
    organizations: int
    rollups_deleted: int
    # PostgreSQL: whole days of raw events dropped (not counted in events_deleted).
    partitions_dropped: int
    # Rows of the site's page views (one per day and combination).
    site_views_deleted: int
    # Times alert rules fired, forgotten with their organization's usage events.
    alert_firings_deleted: int
    # Organization id -> raw usage events deleted (only those that lost some).
    events_deleted_by_org: dict[str, int]


@router.post("/run")
async def run_retention_now(
    caller: Operator, actor: Acting, db: Engine, settings: Config, body: RetentionRunIn
) -> RetentionRunOut:
    """Delete raw usage events past their organization's window, and rollups and the
    site's page-view days past theirs, in small batches (the ledger is kept), and answer
    what was deleted; audited."""
    report = await run_retention(
        db,
        body.as_of or utcnow(),
        RetentionPolicy.of(settings),
        forget_site_views=delete_views_before,
        forget_alert_history=forget_before,
        actor=actor,
    )
    return RetentionRunOut(
        as_of=report.as_of,
        events_deleted=report.total_events_deleted,
        organizations=len(report.events_deleted),
        rollups_deleted=report.rollups_deleted,
        partitions_dropped=report.partitions_dropped,
        site_views_deleted=report.site_views_deleted,
        alert_firings_deleted=report.alert_firings_deleted,
        events_deleted_by_org=report.events_deleted,
    )
