"""Spend quotas: caps on what a key, user or organization spends per UTC calendar day
and month, on top of the organization's balance.

A quota is held like the balance: before a request is forwarded, the most it can cost
is added to each of its counters, and only if every counter stays within its cap; when
it ends, the hold is replaced with the real cost. So concurrent requests can never take
a counter past its cap, whichever gateway process they reach.

A counter lives in the spend store for its period. When the store does not have it (the
first request of the period on this store, or Redis restarted), it is loaded from the
usage events of the period in the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aisonar.limits.models import Subject
from aisonar.store.redis_client import org_scope


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in UTC."""

    start: datetime
    end: datetime


def day_of(moment: datetime) -> Period:
    start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Period(start, start + timedelta(days=1))


def month_of(moment: datetime) -> Period:
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else (start.replace(month=start.month + 1))
    )
    return Period(start, following)


PERIODS: dict[str, Callable[[datetime], Period]] = {
    "daily_spend": day_of,
    "monthly_spend": month_of,
}


@dataclass(frozen=True, slots=True)
class SpendCheck:
    """At most `cap` micro-units spent by `counted` in `period`."""

    name: str  # what a refusal names, e.g. "daily spend quota of user ada@example.com"
    key: str  # the counter's key in the store: subject, dimension and period
    cap: int
    counted: Subject
    period: Period


def spend_check(
    name: str, counted: Subject, dimension: str, cap: int, now: datetime, *, org_id: str
) -> SpendCheck:
    """The quota `dimension` of `counted`, a subject of organization `org_id`: the key
    is in the organization's hash slot on a Redis Cluster, with its balance."""
    period = PERIODS[dimension](now)
    scope = org_scope(org_id)
    key = f"spend:{scope}:{counted.kind}:{counted.id}:{dimension}:{period.start:%Y%m%d}"
    return SpendCheck(name, key, cap, counted, period)


@dataclass(frozen=True, slots=True)
class SpendDecision:
    allowed: bool
    # The first check that refused, and what its counter held (spent plus other holds).
    refused_by: SpendCheck | None = None
    committed: int = 0


# What `counted` spent in `period`, from the database.
SpendLoader = Callable[[Subject, Period], Awaitable[int]]


class SpendStore(Protocol):
    async def hold(self, hold_id: str, checks: Sequence[SpendCheck], amount: int) -> SpendDecision:
        """Add `amount` to every counter if each stays within its cap, else to none."""
        ...

    async def settle(self, hold_id: str, checks: Sequence[SpendCheck], cost: int) -> None:
        """Replace the hold with the real cost (0 gives it back)."""
        ...

    async def close(self) -> None: ...
