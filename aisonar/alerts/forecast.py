"""How long an organization's balance lasts at the rate it has been spending: the burn
rate is what the gateway charged over the window (a week by default; since the
organization's creation when it is younger), read from the hour rollups and the minutes
compaction has not covered yet, never the raw events. Usage reported by applications
(ingest, OpenTelemetry) is not charged, so it does not count. An organization less than
an hour old has no forecast yet."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import get_org
from aisonar.analytics.summary import Filters, GroupBy, summarize
from aisonar.usage.rollups import DAY, HOUR

FORECAST_WINDOW_S = 7 * DAY
MIN_HISTORY_S = HOUR


@dataclass(frozen=True)
class Burn:
    # Micro-units charged over `seconds`.
    spent: int
    seconds: int

    def days_left(self, balance: int) -> Fraction | None:
        """Days the balance (micro-units) lasts at this rate, 0 when it is gone; None when
        nothing was spent, so that it does not run out."""
        if self.spent <= 0:
            return None
        return Fraction(max(balance, 0) * self.seconds, self.spent * DAY)


def shown_days(days: Fraction) -> str:
    """Days to the tenth below: the balance lasts at least as long as it says."""
    return f"{math.floor(days * 10) / 10:.1f}"


def _hour(moment: datetime, *, up: bool = False) -> datetime:
    seconds = int(moment.timestamp())
    floor = seconds - seconds % HOUR
    return datetime.fromtimestamp(floor + HOUR if up and floor < seconds else floor, UTC)


async def recent_burn(
    conn: AsyncConnection, org_id: str, now: datetime, window_s: int = FORECAST_WINDOW_S
) -> Burn | None:
    """What the organization was charged over the window ending now, or None when it is
    younger than an hour."""
    org = await get_org(conn, org_id)
    start = max(now - timedelta(seconds=window_s), org.created_at)
    seconds = int((now - start).total_seconds())
    if seconds < MIN_HISTORY_S:
        return None
    # The rollups hold whole hours, so the hour the window starts in is read whole: up to
    # an hour's spend more than the window's, against a week's. (An organization's first
    # hour holds nothing from before its creation.)
    filters = Filters(_hour(start), _hour(now, up=True), org_id=org_id, source="gateway")
    [total] = await summarize(conn, filters, GroupBy.TOTAL, granularity=HOUR)
    return Burn(total.cost_units, seconds)
