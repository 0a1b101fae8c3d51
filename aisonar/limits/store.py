"""The limit store: one atomic decision per request over every limit that applies to it.

Rates (requests or tokens per window) are GCRA buckets: a bucket keeps one number, its
theoretical arrival time (TAT); a request of cost c moves it c * window / limit ahead,
and is admitted while that stays within one window of now. A full bucket admits `limit`
at once, then refills smoothly, so no window boundary lets twice the limit through.
Concurrency is a set of request ids with expiries, so a slot whose process died is
reaped instead of being held forever.

All checks pass or none is applied: a request refused by one limit consumes nothing
from the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateCheck:
    """At most `limit` units per `window_s`; this request takes `cost` of them."""

    name: str  # what a refusal names, e.g. "key requests per minute"
    key: str
    limit: int
    window_s: float
    cost: int


@dataclass(frozen=True, slots=True)
class SlotCheck:
    """At most `limit` requests in flight; a slot expires after `ttl_s` if never released."""

    name: str
    key: str
    limit: int
    ttl_s: float


@dataclass(frozen=True, slots=True)
class CheckState:
    """Where one limit stands after the decision (for the x-ratelimit-* headers)."""

    name: str
    limit: int
    remaining: int
    # Seconds until the limit is whole again.
    reset_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # The name of the first check that refused, and when to try again.
    refused_by: str | None
    retry_after_s: float
    states: tuple[CheckState, ...]


class LimitStore(Protocol):
    async def admit(
        self, request_id: str, rates: Sequence[RateCheck], slots: Sequence[SlotCheck]
    ) -> Decision:
        """Check every limit and, only if all pass, take the request's share of each."""
        ...

    async def finish(
        self,
        request_id: str,
        slots: Sequence[SlotCheck],
        tokens: Sequence[RateCheck],
        delta: int,
    ) -> None:
        """Give back a request's slots, and add `delta` units (negative: give back) to
        the rate buckets it was admitted on, once its real cost is known."""
        ...

    async def close(self) -> None: ...


_ROUNDING_S = 1e-6


def gcra(
    tat: float, now: float, limit: int, window_s: float, cost: int
) -> tuple[bool, float, float]:
    """(admitted, the new TAT, seconds until it could be) for one rate bucket."""
    interval = window_s / limit
    base = max(tat, now)
    new_tat = base + cost * interval
    allow_at = new_tat - window_s
    if cost > limit:
        return False, base, window_s
    # Rounding can put `allow_at` a hair past `now` when the bucket has exactly room
    # (`now + window_s - window_s != now` for a third of the clock's values with a limit
    # of 1): a microsecond's grace admits it.
    if allow_at > now + _ROUNDING_S:
        return False, base, allow_at - now
    return True, new_tat, 0.0


def rate_state(check: RateCheck, tat: float, now: float) -> CheckState:
    interval = check.window_s / check.limit
    ahead = max(tat - now, 0.0)
    remaining = int((check.window_s - ahead) / interval + 1e-9)
    return CheckState(check.name, check.limit, max(remaining, 0), ahead)
