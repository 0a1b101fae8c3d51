"""An organization's alert rules, for its admins (and operators): create, list, read,
change, delete; each with its current state (ok or firing) and when it last changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.access import administered_org
from aisonar.accounts.principal import Principal
from aisonar.alerts import services as alerts
from aisonar.alerts.models import AlertKind, AlertRule, AlertState, RuleSettings
from aisonar.audit.models import Actor
from aisonar.errors import InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.web.deps import Acting, Caller, Engine
from aisonar.web.errors import Forbidden

router = APIRouter(tags=["alerts"])

Percentile = Literal["p50", "p90", "p95", "p99"]
Source = Literal["gateway", "ingest", "otel"]
_THRESHOLD = (
    "Credits for cost and balance (12.50), a fraction or percentage for error_rate (0.05 or "
    "5%), whole milliseconds for latency and ttft (2000)."
)
_WINDOW = "cost, error_rate, latency, ttft: 15m, 2h, 7d (1 minute to 7 days; default 15m)."


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
    enabled: bool
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
    threshold: str = Field(min_length=1, max_length=40, description=_THRESHOLD)
    window: str | None = Field(default=None, max_length=10, description=_WINDOW)
    # latency and ttft (default p95).
    percentile: Percentile | None = None
    # error_rate, latency and ttft: fewer requests in the window leave the rule as it is.
    min_requests: int | None = Field(default=None, ge=1, le=alerts.MAX_MIN_REQUESTS)
    # Only this requested model's, or this source's, usage counts.
    model: str | None = Field(default=None, max_length=alerts.MAX_MODEL)
    source: Source | None = None
    name: str = Field(default="", max_length=alerts.MAX_NAME)
    enabled: bool = True


class AlertChange(BaseModel):
    """The settings to change (any but the kind); null model or source lifts the filter,
    null window, percentile or min_requests returns it to its default."""

    model_config = ConfigDict(extra="forbid")
    threshold: str | None = Field(default=None, min_length=1, max_length=40)
    window: str | None = Field(default=None, max_length=10)
    percentile: Percentile | None = None
    min_requests: int | None = Field(default=None, ge=1, le=alerts.MAX_MIN_REQUESTS)
    model: str | None = Field(default=None, max_length=alerts.MAX_MODEL)
    source: Source | None = None
    name: str | None = Field(default=None, max_length=alerts.MAX_NAME)
    enabled: bool | None = None


_NOT_NULL = ("threshold", "name", "enabled")


async def _administered_rule(conn: AsyncConnection, caller: Principal, rule_id: str) -> AlertRule:
    rule = await alerts.get_rule(conn, rule_id)
    if not caller.administers(rule.org_id):
        if caller.org_id == rule.org_id:
            raise Forbidden(N_("Only the organization's admins may do this."))
        raise NotFound(N_("no alert rule with id {rule_id!r}"), rule_id=rule_id)
    return rule


@router.get("/api/orgs/{org_id}/alerts")
async def list_alerts(caller: Caller, db: Engine, org_id: str) -> list[AlertOut]:
    """The organization's alert rules, oldest first, each with its state."""
    async with db.connect() as conn:
        return await alerts_of(conn, caller, org_id)


async def alerts_of(conn: AsyncConnection, caller: Principal, org_id: str) -> list[AlertOut]:
    """`GET /api/orgs/{id}/alerts` (the API and the console)."""
    await administered_org(conn, caller, org_id)
    return [AlertOut.of(rule) for rule in await alerts.list_rules(conn, org_id)]


@router.post("/api/orgs/{org_id}/alerts", status_code=201)
async def create_alert(
    caller: Caller, actor: Acting, db: Engine, org_id: str, body: AlertCreate
) -> AlertOut:
    """A rule on the organization's cost, error rate, latency or time-to-first-token
    percentile over a window, or on its balance. Its admins hear (inbox, email, webhooks)
    when it starts firing and when it resolves."""
    async with db.begin() as conn:
        return await create_alert_in(conn, caller, actor, org_id, body)


async def create_alert_in(
    conn: AsyncConnection, caller: Principal, actor: Actor, org_id: str, body: AlertCreate
) -> AlertOut:
    """`POST /api/orgs/{id}/alerts` (the API and the console)."""
    await administered_org(conn, caller, org_id)
    settings = RuleSettings(**body.model_dump())
    return AlertOut.of(await alerts.create_rule(conn, org_id, settings, actor=actor))


@router.get("/api/alerts/{alert_id}")
async def get_alert(caller: Caller, db: Engine, alert_id: str) -> AlertOut:
    async with db.connect() as conn:
        return await alert_of(conn, caller, alert_id)


@router.patch("/api/alerts/{alert_id}")
async def change_alert(
    caller: Caller, actor: Acting, db: Engine, alert_id: str, body: AlertChange
) -> AlertOut:
    """Change the given settings; the rule is checked whole. Disabling a firing rule sets
    it back to ok without a notice."""
    changes = alert_changes(body)
    async with db.begin() as conn:
        return await change_alert_of(conn, caller, actor, alert_id, changes)


def alert_changes(body: AlertChange) -> dict[str, Any]:
    """The settings a `PATCH /api/alerts/{id}` body changes (checked before anything is
    read)."""
    changes = body.model_dump(include=body.model_fields_set)
    for name in _NOT_NULL:
        if name in changes and changes[name] is None:
            raise InvalidInput(N_("{name} cannot be null"), param=name, name=name)
    return changes


async def change_alert_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, alert_id: str, changes: dict[str, Any]
) -> AlertOut:
    """`PATCH /api/alerts/{id}` (the API and the console)."""
    await _administered_rule(conn, caller, alert_id)
    return AlertOut.of(await alerts.update_rule(conn, alert_id, changes, actor=actor))


@router.delete("/api/alerts/{alert_id}")
async def delete_alert(caller: Caller, actor: Acting, db: Engine, alert_id: str) -> AlertOut:
    async with db.begin() as conn:
        return await delete_alert_of(conn, caller, actor, alert_id)


async def alert_of(conn: AsyncConnection, caller: Principal, alert_id: str) -> AlertOut:
    """`GET /api/alerts/{id}` (the API and the console)."""
    return AlertOut.of(await _administered_rule(conn, caller, alert_id))


async def delete_alert_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, alert_id: str
) -> AlertOut:
    """`DELETE /api/alerts/{id}` (the API and the console)."""
    await _administered_rule(conn, caller, alert_id)
    return AlertOut.of(await alerts.delete_rule(conn, alert_id, actor=actor))
