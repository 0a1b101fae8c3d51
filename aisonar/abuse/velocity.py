"""Velocity: a key's requests or spend over the last ten minutes far above its own
recent rate. The baseline is the key's hourly series over the seven days before the
current hour, read from the rollups: an exponentially weighted moving average (EWMA, a
day's span: alpha = 2 / 25) follows its level and leans to the recent days, and the
median absolute deviation (MAD, scaled by 1.4826 to a standard deviation's size) measures
its spread without being pulled by the spikes it holds. The window fires when, scaled to
an hour, it is above the EWMA plus six MADs and at least three times the EWMA (a flat
history has a MAD of zero), and it passes a floor. Only the keys busiest in the window
(up to 200, and then those past a floor) have their week read."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.abuse.models import FindingKind, Signal, SubjectKind
from aisonar.accounts.services import get_key
from aisonar.analytics.summary import Filters, GroupBy, summarize
from aisonar.billing.services import format_amount
from aisonar.errors import NotFound
from aisonar.usage.rollups import HOUR, MINUTE

WINDOW = timedelta(minutes=10)
HISTORY = timedelta(days=7)
ALPHA = 2 / 25
MADS = 6
# The MAD of a normal distribution times this is its standard deviation.
MAD_SCALE = 1.4826
TIMES_LEVEL = 3
CANDIDATES = 200
_PER_HOUR = timedelta(hours=1) / WINDOW


@dataclass(frozen=True)
class VelocityFloors:
    requests: int
    # Micro-units spent within the window.
    spend: int


@dataclass(frozen=True)
class Baseline:
    level: float
    spread: float

    def threshold(self) -> float:
        """The hourly rate above which the window fires (before its floor)."""
        return max(self.level + MADS * self.spread, TIMES_LEVEL * self.level)


def baseline(hourly: Sequence[float]) -> Baseline:
    """EWMA and scaled MAD of an hourly series, oldest first."""
    level = 0.0
    for number, value in enumerate(hourly):
        level = value if number == 0 else ALPHA * value + (1 - ALPHA) * level
    middle = statistics.median(hourly) if hourly else 0.0
    spread = MAD_SCALE * statistics.median(abs(v - middle) for v in hourly) if hourly else 0.0
    return Baseline(level, spread)


async def _hourly(
    conn: AsyncConnection, key_id: str, until: datetime
) -> tuple[list[float], list[float]]:
    """The key's requests and spend per hour over the week before `until`, every hour
    (none used: zero), oldest first."""
    since = until - HISTORY
    found = await summarize(
        conn,
        Filters(since=since, until=until, key_id=key_id),
        GroupBy.HOUR,
        limit=200,
        granularity=HOUR,
    )
    by_hour = {one.group: one for one in found}
    hours = [since + timedelta(hours=n) for n in range(int(HISTORY / timedelta(hours=1)))]
    requests = [
        float(by_hour[h.isoformat()].requests) if h.isoformat() in by_hour else 0.0 for h in hours
    ]
    spend = [
        float(by_hour[h.isoformat()].cost_units) if h.isoformat() in by_hour else 0.0 for h in hours
    ]
    return requests, spend


@dataclass(frozen=True)
class Fast:
    key_id: str
    measure: str
    window: int
    baseline: Baseline


async def fast_keys(conn: AsyncConnection, now: datetime, floors: VelocityFloors) -> list[Fast]:
    """The keys whose window is past its floor and its baseline, one per key (requests
    first)."""
    window = await summarize(
        conn,
        Filters(since=now - WINDOW, until=now),
        GroupBy.KEY,
        limit=CANDIDATES,
        granularity=MINUTE,
    )
    until = (now - WINDOW).replace(minute=0, second=0, microsecond=0)
    found = []
    for one in window:
        measured = (
            ("requests", one.requests, floors.requests),
            ("spend", one.cost_units, floors.spend),
        )
        if not any(value >= floor for _, value, floor in measured):
            continue
        requests, spend = await _hourly(conn, one.group, until)
        for (name, value, floor), hourly in zip(measured, (requests, spend), strict=True):
            expected = baseline(hourly)
            if value >= floor and value * _PER_HOUR > expected.threshold():
                found.append(Fast(one.group, name, value, expected))
                break
    return found


async def velocity_signals(
    conn: AsyncConnection, now: datetime, floors: VelocityFloors
) -> list[Signal]:
    signals = []
    for fast in await fast_keys(conn, now, floors):
        try:
            key = await get_key(conn, fast.key_id)
        except NotFound:
            continue
        shown = format_amount(fast.window) if fast.measure == "spend" else str(fast.window)
        evidence = {
            "measure": fast.measure,
            # The window's requests, or its spend in credits.
            "shown": shown,
            "window_minutes": int(WINDOW.total_seconds() // 60),
            "in_window": fast.window,
            "per_hour": round(fast.window * _PER_HOUR),
            "ewma_per_hour": round(fast.baseline.level, 2),
            "mad_per_hour": round(fast.baseline.spread, 2),
            "threshold_per_hour": round(fast.baseline.threshold(), 2),
        }
        signals.append(
            Signal(
                FindingKind.VELOCITY,
                SubjectKind.KEY,
                key.id,
                evidence,
                window_start=now.replace(
                    minute=now.minute - now.minute % 10, second=0, microsecond=0
                ),
                org_id=key.org_id,
                user_id=key.user_id,
            )
        )
    return signals
