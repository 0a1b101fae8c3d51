"""Admit: check a request against every rate limit that applies to its key (the key's,
its user's, its organization's or plan's) in one decision of the limit store, before
anything is held or forwarded; give back what it did not use when it ends.

A key with no limits anywhere costs nothing here: no store is asked."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from aisonar.errors import AISonarError
from aisonar.gateway.formats.usage import TokenUsage
from aisonar.gateway.http import Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.limits.store import CheckState, LimitStore, RateCheck, SlotCheck
from aisonar.observability.metrics import GatewayMetrics

log = logging.getLogger(__name__)

_MINUTE_S = 60.0
# Without a tokenizer on this path: about four bytes of prompt to a token.
_BYTES_PER_TOKEN = 4
_NAMES = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "concurrent": "requests in flight",
}


class RateLimited(AISonarError):
    status = 429
    kind = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, refused_by: str, retry_after_s: float) -> None:
        seconds = max(1, math.ceil(retry_after_s))
        super().__init__(f"Rate limit reached: {refused_by}. Try again in {seconds} s.")
        self.retry_after = str(seconds)


class LimitStoreUnavailable(AISonarError):
    status = 503
    kind = "server_error"
    code = "limit_store_unavailable"
    retry_after = "1"


@dataclass(slots=True)
class Admitted:
    """What a request took, to give back or correct when it ends."""

    request_id: str
    tokens: tuple[RateCheck, ...]
    slots: tuple[SlotCheck, ...]
    estimate: int


@dataclass
class Limiter:
    store: LimitStore
    metrics: GatewayMetrics
    slot_ttl_s: float
    fail_open: bool

    async def admit(
        self, exchange: Exchange, meter: RequestMeter, estimate: int
    ) -> Admitted | None:
        """Refuse with RateLimited, or admit and set the x-ratelimit-* headers; the
        decision goes on the usage event."""
        assert meter.identity is not None
        entries = list(meter.identity.limits.entries())
        if not entries:
            return None
        rates: list[RateCheck] = []
        tokens: list[RateCheck] = []
        slots: list[SlotCheck] = []
        for dimension, limit, level in entries:
            name = f"{_NAMES.get(dimension, dimension)} of {level.source.kind} {level.label}"
            key = f"{level.counted.kind}:{level.counted.id}:{dimension}"
            if dimension == "rpm":
                rates.append(RateCheck(name, key, limit, _MINUTE_S, 1))
            elif dimension == "tpm":
                tokens.append(RateCheck(name, key, limit, _MINUTE_S, estimate))
            elif dimension == "concurrent":
                slots.append(SlotCheck(name, key, limit, self.slot_ttl_s))
        if not (rates or tokens or slots):
            return None
        try:
            decision = await self.store.admit(exchange.request_id, [*rates, *tokens], slots)
        except (RedisError, OSError) as error:
            self.metrics.limit_store_errors.inc()
            if not self.fail_open:
                log.warning("limit store unreachable; request refused (fail closed)")
                meter.limit_decision = "refused: limit store unreachable"
                raise LimitStoreUnavailable(
                    "Rate limits cannot be checked; retry shortly."
                ) from error
            log.warning("limit store unreachable; request admitted without rate limits")
            meter.limit_decision = "unchecked: limit store unreachable"
            return None
        if not decision.allowed:
            assert decision.refused_by is not None
            meter.limit_decision = f"refused: {decision.refused_by}"
            raise RateLimited(decision.refused_by, decision.retry_after_s)
        meter.limit_decision = "admitted"
        states = decision.states
        exchange.extra_headers += [
            *_headers("requests", states[: len(rates)]),
            *_headers("tokens", states[len(rates) : len(rates) + len(tokens)]),
        ]
        return Admitted(exchange.request_id, tuple(tokens), tuple(slots), estimate)

    async def finish(self, admitted: Admitted | None, usage: TokenUsage) -> None:
        """Release the request's slots and count its real tokens instead of the estimate."""
        if admitted is None:
            return
        try:
            await self.store.release(admitted.request_id, admitted.slots)
            used = usage.input_tokens + usage.output_tokens
            await self.store.correct(admitted.tokens, used - admitted.estimate)
        except (RedisError, OSError):
            log.warning("limit store unreachable; a request's slots expire on their own")
            self.metrics.limit_store_errors.inc()


def token_estimate(input_bytes: int, max_output_tokens: int | None) -> int:
    return input_bytes // _BYTES_PER_TOKEN + (max_output_tokens or 0)


def _headers(unit: str, states: Sequence[CheckState]) -> list[tuple[bytes, bytes]]:
    """OpenAI's headers for the tightest limit of a kind."""
    if not states:
        return []
    tightest = min(states, key=lambda state: state.remaining)
    return [
        (f"x-ratelimit-limit-{unit}".encode(), str(tightest.limit).encode()),
        (f"x-ratelimit-remaining-{unit}".encode(), str(tightest.remaining).encode()),
        (f"x-ratelimit-reset-{unit}".encode(), f"{tightest.reset_s:.3g}s".encode()),
    ]
