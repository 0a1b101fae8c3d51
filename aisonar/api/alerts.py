"""An organization's alert rules, for its admins (and operators): create, list, read,
change, delete; each with its channels, its current state (ok or firing) and when it last
changed, and its firing history (`alerts/services.py` decides who may)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from aisonar.alerts import services as alerts
from aisonar.alerts.models import AlertKind, AlertRule, AlertState, Firing
from aisonar.alerts.services import (
    Channels,
    EndUser,
    MinRequests,
    ModelName,
    NewRule,
    Percentile,
    Property,
    RuleName,
    Source,
    Threshold,
    Window,
    rule_changes,
)
from aisonar.api import paging
from aisonar.api.paging import After, Limit
from aisonar.web.deps import Acting, Caller, Engine
from aisonar.web.ids import RowId

router = APIRouter(tags=["alerts"])

_THRESHOLD = (
    "Credits for cost and balance (12.50), a fraction or percentage for error_rate (0.05 or "
    "5%), whole milliseconds for latency and ttft (2000), whole days for forecast (3: fires "
    "when the balance lasts fewer days at the window's spend rate)."
)
_WINDOW = (
    "cost, error_rate, latency, ttft: 15m, 2h, 7d (1 minute to 7 days; default 15m); "
    "forecast: the spend rate's window (default 7d, or since the organization's creation)."
)
_CHANNELS = "Any of email, inbox, webhook (default: all three)."


class AlertOut(BaseModel):
    id: str
    org_id: str
    name: str
    kind: AlertKind
    threshold: str
    window: str | None
    percentile: str | None
    min_requests: int | None
    model: str | None
    source: str | None
    end_user: str | None
    property: str | None
    enabled: bool
    channels: list[str]
    # ok or firing, and since when.
    state: AlertState
    state_changed_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, rule: AlertRule) -> AlertOut:
        return cls(**alerts.shown(rule))


class AlertCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: AlertKind
    threshold: Threshold = Field(description=_THRESHOLD)
    window: Window | None = Field(default=None, description=_WINDOW)
    # latency and ttft (default p95).
    percentile: Percentile | None = None
    # error_rate, latency and ttft: fewer requests in the window leave the rule as it is.
    min_requests: MinRequests | None = None
    # Only this requested model's, or this source's, usage counts.
    model: ModelName | None = None
    source: Source | None = None
    # Only this end user's usage counts (`X-AISonar-User`, OpenAI's `user`, ...), or only
    # that with this custom property (`name=value`): read from the raw events.
    end_user: EndUser | None = None
    property: Property | None = None
    name: RuleName = ""
    enabled: bool = True
    channels: Channels | None = Field(default=None, description=_CHANNELS)


class AlertChange(BaseModel):
    """The settings to change (any but the kind); null model, source, end_user or property
    lifts the filter, null window, percentile or min_requests returns it to its
    default."""

    model_config = ConfigDict(extra="forbid")
    threshold: Threshold | None = None
    window: Window | None = None
    percentile: Percentile | None = None
    min_requests: MinRequests | None = None
    model: ModelName | None = None
    source: Source | None = None
    end_user: EndUser | None = None
    property: Property | None = None
    name: RuleName | None = None
    enabled: bool | None = None
    channels: Channels | None = None


class NotifiedOut(BaseModel):
    # The firing's notice (fired) or its resolution's (resolved).
    notice: str
    # email or webhook (the inbox is not delivered: its notices are in the admins' inbox).
    channel: str
    # The email address or the endpoint's URL.
    to: str
    # pending, delivered or failed.
    status: str
    attempts: int
    last_error: str | None


class FiringOut(BaseModel):
    id: int
    rule_id: str
    fired_at: datetime
    # The measure and the threshold when it fired, in the rule's unit.
    observed: str
    threshold: str
    # The channels its notices went by.
    channels: list[str]
    # Null while it fires.
    resolved_at: datetime | None
    resolved_observed: str | None
    notified: list[NotifiedOut]

    @classmethod
    def of(cls, firing: Firing) -> FiringOut:
        return cls(
            id=firing.id,
            rule_id=firing.rule_id,
            fired_at=firing.fired_at,
            observed=firing.observed,
            threshold=firing.threshold,
            channels=list(firing.channels),
            resolved_at=firing.resolved_at,
            resolved_observed=firing.resolved_observed,
            notified=[NotifiedOut(**vars(told)) for told in firing.notified],
        )


@router.get("/api/orgs/{org_id}/alerts")
async def list_alerts(
    caller: Caller,
    db: Engine,
    org_id: str,
    response: Response,
    after: After = None,
    limit: Limit = None,
) -> list[AlertOut]:
    """The organization's alert rules, oldest first, each with its state; `?after=<id>&limit=N`
    pages them, the next page's address in the `Link` header (`rel="next"`)."""
    async with db.connect() as conn:
        found = await alerts.rules_of(conn, caller, org_id, paging.page(after, limit))
    path = f"/api/orgs/{org_id}/alerts"
    return [AlertOut.of(rule) for rule in paging.cut(found, limit, response, path, _id)]


def _id(rule: AlertRule) -> str:
    return rule.id


@router.post("/api/orgs/{org_id}/alerts", status_code=201)
async def create_alert(
    caller: Caller, actor: Acting, db: Engine, org_id: str, body: AlertCreate
) -> AlertOut:
    """A rule on the organization's cost, error rate, latency or time-to-first-token
    percentile over a window, on its balance, or on the days its balance lasts at the
    current spend rate (forecast). Its admins hear by the rule's channels (inbox, email,
    webhooks) when it starts firing and when it resolves."""
    settings = NewRule(**body.model_dump()).settings()
    async with db.begin() as conn:
        return AlertOut.of(await alerts.create_rule_in(conn, caller, actor, org_id, settings))


@router.get("/api/alerts/{alert_id}")
async def get_alert(caller: Caller, db: Engine, alert_id: str) -> AlertOut:
    async with db.connect() as conn:
        return AlertOut.of(await alerts.administered_rule(conn, caller, alert_id))


@router.get("/api/alerts/{alert_id}/history")
async def alert_history(
    caller: Caller,
    db: Engine,
    alert_id: str,
    request: Request,
    response: Response,
    before_id: Annotated[RowId | None, Query(description="Page back from this firing.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[FiringOut]:
    """Each time the rule fired, newest first: the measure and threshold then, when it
    resolved, and whom its notices reached with how each delivery went; a full page's
    `Link` header (`rel="next"`) gives the older ones."""
    async with db.connect() as conn:
        found = await alerts.history_of(conn, caller, alert_id, before_id=before_id, limit=limit)
    shown = paging.back(found, limit, request, response, lambda firing: firing.id)
    return [FiringOut.of(firing) for firing in shown]


@router.patch("/api/alerts/{alert_id}")
async def change_alert(
    caller: Caller, actor: Acting, db: Engine, alert_id: str, body: AlertChange
) -> AlertOut:
    """Change the given settings; the rule is checked whole. Disabling a firing rule sets
    it back to ok without a notice."""
    changes = rule_changes(body.model_dump(include=body.model_fields_set))
    async with db.begin() as conn:
        return AlertOut.of(await alerts.change_rule_of(conn, caller, actor, alert_id, changes))


@router.delete("/api/alerts/{alert_id}")
async def delete_alert(caller: Caller, actor: Acting, db: Engine, alert_id: str) -> AlertOut:
    async with db.begin() as conn:
        return AlertOut.of(await alerts.delete_rule_of(conn, caller, actor, alert_id))
