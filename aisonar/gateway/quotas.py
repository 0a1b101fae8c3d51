"""Spend quotas on the hot path: hold a request's most possible cost on every daily and
monthly quota of its key, user and organization (or plan), and of its end user, beside
the balance hold, and replace it with the real cost when the request ends.

A key with no spend quota anywhere costs nothing here: no store is asked."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.exceptions import RedisError

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.money import format_amount
from aisonar.clock import utcnow
from aisonar.gateway.admission import ADMITTED, LimitRefusal, LimitStoreUnavailable
from aisonar.limits.models import SPEND_DIMENSIONS, AppliedLimits, EffectiveLimits
from aisonar.limits.spend import Period, SpendCheck, SpendStore, spend_check
from aisonar.observability.metrics import GatewayMetrics

log = logging.getLogger(__name__)

_NAMES = {"daily_spend": "daily spend quota", "monthly_spend": "monthly spend quota"}
_MAX_CACHED_CHECKS = 100_000
_EVER = Period(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


class QuotaExceeded(LimitRefusal):
    """OpenAI's answer to a spent quota: 429 insufficient_quota, until the period resets."""

    status = 429
    kind = "insufficient_quota"
    code = "insufficient_quota"

    def __init__(self, check: SpendCheck, committed: int, amount: int, now: datetime) -> None:
        reset = f"{check.period.end:%Y-%m-%dT%H:%M:%SZ}"
        left = max(check.cap - committed, 0)
        if left == 0:
            message = (
                f"The {check.name} is exhausted ({format_amount(check.cap)} spent or held) "
                f"until {reset}."
            )
        else:
            message = (
                f"This request may cost up to {format_amount(amount)} but the {check.name} "
                f"has {format_amount(left)} left until {reset}. Lower max_tokens, or wait."
            )
        super().__init__(message)
        self.retry_after = str(max(1, math.ceil((check.period.end - now).total_seconds())))
        self.decision = f"refused: {check.name}"


@dataclass(frozen=True, slots=True)
class QuotaHold:
    """The quotas a request's most possible cost is held on (none where no quota applies
    or their store is out of reach and they fail open), and what was decided, for its
    usage event."""

    checks: Sequence[SpendCheck]
    decision: str | None


_NOTHING_HELD = QuotaHold((), None)
_UNCHECKED = QuotaHold((), "unchecked: spend store unreachable")


def _spend_checks(
    entries: Iterable[tuple[str, int, AppliedLimits]], now: datetime
) -> tuple[SpendCheck, ...]:
    return tuple(
        spend_check(
            f"{_NAMES[dimension]} of {level.source.kind} {level.label}",
            level.counted,
            dimension,
            cap,
            now,
        )
        for dimension, cap, level in entries
        if dimension in SPEND_DIMENSIONS
    )


@dataclass
class SpendQuotas:
    store: SpendStore
    metrics: GatewayMetrics
    fail_open: bool
    clock: Callable[[], datetime] = utcnow
    _checks: dict[int, tuple[EffectiveLimits, datetime, datetime, Sequence[SpendCheck]]] = field(
        default_factory=dict, init=False, repr=False
    )

    def checks(self, identity: KeyIdentity, now: datetime) -> Sequence[SpendCheck]:
        """The quotas of the key's limits in the periods `now` falls in: made once per set
        of limits and period (each key identity holds its own until its limits change),
        rather than once per request."""
        limits = identity.limits
        cached = self._checks.get(id(limits))
        if cached is not None and cached[0] is limits and cached[1] <= now < cached[2]:
            return cached[3]
        checks = _spend_checks(limits.entries(), now)
        since = max((check.period.start for check in checks), default=_EVER.start)
        until = min((check.period.end for check in checks), default=_EVER.end)
        if len(self._checks) >= _MAX_CACHED_CHECKS:
            self._checks.clear()
        # The entry keeps `limits` alive, so its id cannot be reused while cached.
        self._checks[id(limits)] = (limits, since, until, checks)
        return checks

    async def hold(
        self, identity: KeyIdentity, request_id: str, amount: int, end_user: str | None = None
    ) -> QuotaHold:
        """Hold `amount` on every quota of the request (its organization's for each end
        user too, when it names one), or raise QuotaExceeded if one would go over its cap;
        `settle` ends the hold."""
        if amount <= 0:
            return _NOTHING_HELD
        now = self.clock()
        checks = self.checks(identity, now)
        if end_user is not None and identity.limits.end_users is not None:
            checks = (*checks, *_spend_checks(identity.limits.for_end_user(end_user), now))
        if not checks:
            return _NOTHING_HELD
        try:
            decision = await self.store.hold(request_id, checks, amount)
        except (RedisError, OSError) as error:
            self.metrics.limit_store_errors.inc()
            if not self.fail_open:
                log.warning("spend store unreachable; request refused (fail closed)")
                raise LimitStoreUnavailable(
                    "Spend quotas cannot be checked; retry shortly.",
                    decision="refused: spend store unreachable",
                ) from error
            log.warning("spend store unreachable; request admitted without spend quotas")
            return _UNCHECKED
        if decision.refused_by is not None:
            raise QuotaExceeded(decision.refused_by, decision.committed, amount, now)
        return QuotaHold(checks, ADMITTED)

    async def settle(self, request_id: str, held: QuotaHold, cost: int) -> None:
        """Charge the quotas `cost` instead of what was held on them."""
        if not held.checks:
            return
        try:
            await self.store.settle(request_id, held.checks, cost)
        except (RedisError, OSError):
            self.metrics.limit_store_errors.inc()
            log.warning("spend store unreachable; a request's quota hold expires on its own")
