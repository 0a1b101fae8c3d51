"""Spend quotas on the hot path: a request's most possible cost is held on every daily
and monthly quota of its key, user and organization (or plan), and of its end user,
beside the balance hold (in one call of the request's counters, `gateway.ticket`), and
replaced with the real cost when the request ends.

A key with no spend quota anywhere costs nothing here: no store is asked for them."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.money import format_amount
from aisonar.clock import utcnow
from aisonar.gateway.admission import LimitRefusal, LimitStoreUnavailable
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


UNCHECKED = "unchecked: spend store unreachable"


def _spend_checks(
    entries: Iterable[tuple[str, int, AppliedLimits]], now: datetime, org_id: str
) -> tuple[SpendCheck, ...]:
    return tuple(
        spend_check(
            f"{_NAMES[dimension]} of {level.source.kind} {level.label}",
            level.counted,
            dimension,
            cap,
            now,
            org_id=org_id,
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
        of limits and period (each key identity, of one organization, holds its own until
        its limits change), rather than once per request."""
        limits = identity.limits
        cached = self._checks.get(id(limits))
        if cached is not None and cached[0] is limits and cached[1] <= now < cached[2]:
            return cached[3]
        checks = _spend_checks(limits.entries(), now, identity.org_id)
        since = max((check.period.start for check in checks), default=_EVER.start)
        until = min((check.period.end for check in checks), default=_EVER.end)
        if len(self._checks) >= _MAX_CACHED_CHECKS:
            self._checks.clear()
        # The entry keeps `limits` alive, so its id cannot be reused while cached.
        self._checks[id(limits)] = (limits, since, until, checks)
        return checks

    def held_on(
        self, identity: KeyIdentity, amount: int, end_user: str | None = None
    ) -> Sequence[SpendCheck]:
        """The quotas `amount` is to be held on (its organization's for each end user too,
        when the request names one): none for a free request."""
        if amount <= 0:
            return ()
        now = self.clock()
        checks = self.checks(identity, now)
        if end_user is not None and identity.limits.end_users is not None:
            end_users = identity.limits.for_end_user(end_user)
            checks = (*checks, *_spend_checks(end_users, now, identity.org_id))
        return checks

    def refused(self, check: SpendCheck, committed: int, amount: int) -> QuotaExceeded:
        return QuotaExceeded(check, committed, amount, self.clock())

    def unreachable(self) -> str:
        """The store could not be asked: hold without quotas (fail open), or refuse."""
        self.metrics.limit_store_errors.inc()
        if not self.fail_open:
            log.warning("spend store unreachable; request refused (fail closed)")
            raise LimitStoreUnavailable(
                "Spend quotas cannot be checked; retry shortly.",
                decision="refused: spend store unreachable",
            )
        log.warning("spend store unreachable; request admitted without spend quotas")
        return UNCHECKED
