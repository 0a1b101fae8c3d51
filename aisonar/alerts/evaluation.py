"""Evaluating alert rules: each enabled rule is read against the rollups over its window
(or against the balance, or the days the balance lasts at the window's spend rate) and
found ok or firing. ok -> firing raises an `alert_firing` notice for the organization's
admins by the rule's channels and opens a row of its history, firing -> ok raises an
`alert_resolved` one and closes the row; a rule that stays where it is raises nothing.
Each server evaluates every rule: the change of state is a conditional UPDATE on the
revision read, so however many change it at once, one does, and one notice is raised."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.alerts.forecast import recent_burn, shown_days
from aisonar.alerts.history import close_firing, open_firing
from aisonar.alerts.models import FIRE_BELOW, AlertKind, AlertRule, AlertState
from aisonar.alerts.services import enabled_rules, settings_of
from aisonar.alerts.units import (
    LONGEST_MINUTE_WINDOW_S,
    MILLIONTHS,
    format_fraction,
    format_threshold,
    format_window,
)
from aisonar.analytics.summary import Filters, GroupBy, Summary, summarize
from aisonar.billing.ledger import durable_balance
from aisonar.billing.money import format_amount
from aisonar.clock import utcnow
from aisonar.notify.notices import ALERT_FIRING, ALERT_RESOLVED, Channel, record_notice
from aisonar.store.tables import alert_rules
from aisonar.usage.rollups import HOUR, MINUTE

log = logging.getLogger(__name__)
_PAGE = 500
# Error rates in millionths (exact), latencies in ms, money in micro-units, days (a
# forecast: infinite when nothing was spent).
Value = Fraction | float | int


@dataclass(frozen=True)
class Reading:
    # None: no verdict, for want of requests (the minimum-volume guard) or of data.
    value: Value | None
    # Requests in the window (streamed ones for ttft); None for a balance.
    requests: int | None


def window_of(rule: AlertRule, now: datetime) -> tuple[datetime, datetime, int]:
    """Since, until and the rollups to read: a window ends with the current minute and
    reads minutes, or past 6 hours ends with the current hour and reads hours (with the
    minutes compaction has not covered yet, so as fresh)."""
    assert rule.window_s is not None
    granularity = MINUTE if rule.window_s <= LONGEST_MINUTE_WINDOW_S else HOUR
    seconds = int(now.timestamp())
    until = seconds - seconds % granularity + granularity
    moment = datetime.fromtimestamp
    return moment(until - rule.window_s, UTC), moment(until, UTC), granularity


def _volume(rule: AlertRule, total: Summary) -> int:
    """The requests a rule's figure is read from: a time to first token has streams only."""
    return total.ttft_requests if rule.kind is AlertKind.TTFT else total.requests


def _measure(rule: AlertRule, total: Summary) -> Value | None:
    if rule.kind is AlertKind.COST:
        return total.cost_units
    if rule.min_requests is not None and _volume(rule, total) < rule.min_requests:
        return None
    if rule.kind is AlertKind.ERROR_RATE:
        return Fraction(total.errors * MILLIONTHS, total.requests)
    measured: float | None = getattr(total, f"{rule.kind}_ms_{rule.percentile}")
    return measured


async def _forecast(conn: AsyncConnection, rule: AlertRule, now: datetime) -> Reading:
    assert rule.window_s is not None
    burn = await recent_burn(conn, rule.org_id, now, rule.window_s)
    if burn is None:
        return Reading(None, None)
    days = burn.days_left((await durable_balance(conn, rule.org_id)).balance)
    return Reading(math.inf if days is None else days, None)


async def observe(conn: AsyncConnection, rule: AlertRule, now: datetime) -> Reading:
    if rule.kind is AlertKind.BALANCE:
        return Reading((await durable_balance(conn, rule.org_id)).balance, None)
    if rule.kind is AlertKind.FORECAST:
        return await _forecast(conn, rule, now)
    since, until, granularity = window_of(rule, now)
    watched = None
    if rule.property_name is not None and rule.property_value is not None:
        watched = (rule.property_name, rule.property_value)
    filters = Filters(
        since,
        until,
        org_id=rule.org_id,
        model=rule.model,
        source=rule.source,
        end_user=rule.end_user,
        property_equals=watched,
    )
    [total] = await summarize(conn, filters, GroupBy.TOTAL, granularity=granularity)
    return Reading(_measure(rule, total), _volume(rule, total))


def verdict(rule: AlertRule, reading: Reading) -> AlertState | None:
    if reading.value is None:
        return None
    if rule.kind in FIRE_BELOW:
        breached = reading.value < rule.threshold
    else:
        breached = reading.value > rule.threshold
    return AlertState.FIRING if breached else AlertState.OK


def _shown(kind: AlertKind, value: Value) -> str:
    """The observed value in the unit of the rule's threshold."""
    if kind is AlertKind.ERROR_RATE:
        return format_fraction(math.floor(value))
    if kind in (AlertKind.LATENCY, AlertKind.TTFT):
        return f"{value:.1f}"
    if kind is AlertKind.FORECAST:
        return "∞" if value == math.inf else shown_days(Fraction(value))
    return format_amount(int(value))


def notice_data(rule: AlertRule, reading: Reading) -> dict[str, Any]:
    assert reading.value is not None
    return {
        "rule_id": rule.id,
        "name": rule.name,
        "kind": rule.kind.value,
        "observed": _shown(rule.kind, reading.value),
        "threshold": format_threshold(rule.kind, rule.threshold),
        "window": None if rule.window_s is None else format_window(rule.window_s),
        "window_s": rule.window_s,
        "percentile": rule.percentile,
        "requests": reading.requests,
        "model": rule.model,
        "source": rule.source,
        "end_user": rule.end_user,
        "property": settings_of(rule).property,
    }


async def _changed_state(
    conn: AsyncConnection, rule: AlertRule, state: AlertState, now: datetime
) -> bool:
    """Move the rule to `state` if it is still as it was read; False if another server
    (or an edit) got there first."""
    changed = await conn.execute(
        update(alert_rules)
        .where(alert_rules.c.id == rule.id, alert_rules.c.revision == rule.revision)
        .values(state=state.value, state_changed_at=now, revision=alert_rules.c.revision + 1)
    )
    return bool(changed.rowcount == 1)


async def evaluate_rule(engine: AsyncEngine, rule: AlertRule, now: datetime) -> bool:
    """Evaluate one rule as read; True if its state changed, a notice was raised and its
    history opened or closed a firing."""
    async with engine.begin() as conn:
        reading = await observe(conn, rule, now)
        state = verdict(rule, reading)
        if state is None or state is rule.state:
            return False
        if not await _changed_state(conn, rule, state, now):
            return False
        kind = ALERT_FIRING if state is AlertState.FIRING else ALERT_RESOLVED
        data = notice_data(rule, reading)
        channels = {Channel(name) for name in rule.channels}
        notice_id = await record_notice(conn, rule.org_id, kind, data, channels=channels)
        if state is AlertState.FIRING:
            await open_firing(
                conn,
                rule_id=rule.id,
                org_id=rule.org_id,
                at=now,
                observed=data["observed"],
                threshold=data["threshold"],
                channels=rule.channels,
                notice_id=notice_id,
            )
        else:
            await close_firing(conn, rule.id, now, observed=data["observed"], notice_id=notice_id)
        return True


async def evaluate_alerts(engine: AsyncEngine, now: datetime) -> int:
    """One round over every enabled rule, each in a transaction of its own; returns the
    notices raised."""
    raised, after_id = 0, ""
    while True:
        async with engine.connect() as conn:
            page = await enabled_rules(conn, after_id=after_id, limit=_PAGE)
        for rule in page:
            raised += await evaluate_rule(engine, rule, now)
        if len(page) < _PAGE:
            return raised
        after_id = page[-1].id


async def keep_evaluating_alerts(engine: AsyncEngine, *, interval_s: float) -> None:
    """A round every interval, the first an interval after the server starts."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await evaluate_alerts(engine, utcnow())
        except (SQLAlchemyError, OSError):
            log.exception("could not evaluate alert rules; will retry")
