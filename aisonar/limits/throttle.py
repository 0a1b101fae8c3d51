"""Counting one action of a person or an address against allowances kept in the limit
store (so every server counts together), refused past them with the caller's own
`Throttled` error: sign-ups, password resets, email changes, support messages, data
exports, page views."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from aisonar.errors import Throttled
from aisonar.limits.store import LimitStore, RateCheck

_HOUR_S = 3600.0


def hourly(name: str, key: str, allowed: int) -> RateCheck:
    """An allowance of `allowed` actions an hour under `key`, each action counting one;
    `name` is what a refusal names."""
    return RateCheck(name, key, allowed, _HOUR_S, 1)


async def count_one(
    store: LimitStore, checks: Sequence[RateCheck], refused: Callable[[float], Throttled]
) -> str:
    """Count one against each check; past any of them raise `refused(retry_after_s)`,
    counting nothing. Returns the id that gives the count back."""
    attempt = secrets.token_hex(8)
    decision = await store.admit(attempt, checks, [])
    if not decision.allowed:
        raise refused(decision.retry_after_s)
    return attempt
