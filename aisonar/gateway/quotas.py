"""Spend quotas on the hot path: hold a request's most possible cost on every daily and
monthly quota of its key, user and organization (or plan) beside the balance hold, and
replace it with the real cost when the request ends.

A key with no spend quota anywhere costs nothing here: no store is asked."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError

from aisonar.billing.money import format_amount
from aisonar.clock import utcnow
from aisonar.errors import AISonarError
from aisonar.gateway.admission import LimitStoreUnavailable
from aisonar.gateway.metering import RequestMeter
from aisonar.limits.models import SPEND_DIMENSIONS
from aisonar.limits.spend import SpendCheck, SpendStore, spend_check
from aisonar.observability.metrics import GatewayMetrics

log = logging.getLogger(__name__)

_NAMES = {"daily_spend": "daily spend quota", "monthly_spend": "monthly spend quota"}


class QuotaExceeded(AISonarError):
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


@dataclass
class SpendQuotas:
    store: SpendStore
    metrics: GatewayMetrics
    fail_open: bool
    clock: Callable[[], datetime] = utcnow

    def checks(self, meter: RequestMeter, now: datetime) -> list[SpendCheck]:
        assert meter.identity is not None
        return [
            spend_check(
                f"{_NAMES[dimension]} of {level.source.kind} {level.label}",
                level.counted,
                dimension,
                cap,
                now,
            )
            for dimension, cap, level in meter.identity.limits.entries()
            if dimension in SPEND_DIMENSIONS
        ]

    @asynccontextmanager
    async def held(self, meter: RequestMeter, amount: int) -> AsyncIterator[None]:
        """Hold `amount` on every quota of the request (QuotaExceeded if one would go over
        its cap); on the way out, charge the meter's cost instead."""
        now = self.clock()
        checks = self.checks(meter, now) if amount > 0 else []
        if checks and not await self._hold(meter, checks, amount, now):
            checks = []
        try:
            yield
        finally:
            if checks:
                await self._settle(meter, checks)

    async def _hold(
        self, meter: RequestMeter, checks: list[SpendCheck], amount: int, now: datetime
    ) -> bool:
        """True once held; False when the store is unreachable and quotas fail open."""
        try:
            decision = await self.store.hold(meter.request_id, checks, amount)
        except (RedisError, OSError) as error:
            self.metrics.limit_store_errors.inc()
            if not self.fail_open:
                log.warning("spend store unreachable; request refused (fail closed)")
                meter.limit_decision = "refused: spend store unreachable"
                raise LimitStoreUnavailable(
                    "Spend quotas cannot be checked; retry shortly."
                ) from error
            log.warning("spend store unreachable; request admitted without spend quotas")
            meter.limit_decision = "unchecked: spend store unreachable"
            return False
        if decision.refused_by is not None:
            meter.limit_decision = f"refused: {decision.refused_by.name}"
            raise QuotaExceeded(decision.refused_by, decision.committed, amount, now)
        if meter.limit_decision is None:
            meter.limit_decision = "admitted"
        return True

    async def _settle(self, meter: RequestMeter, checks: list[SpendCheck]) -> None:
        try:
            await self.store.settle(meter.request_id, checks, meter.cost)
        except (RedisError, OSError):
            self.metrics.limit_store_errors.inc()
            log.warning("spend store unreachable; a request's quota hold expires on its own")
