"""Admit: check a request against every rate limit that applies to its key (the key's,
its user's, its organization's or plan's, and its organization's for each end user) in
one decision, made with its first hold (one call of the request's counters,
`gateway.ticket`), before anything is forwarded; give back what it did not use when it
ends.

A key with no limits anywhere costs nothing here: no store is asked for them."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aisonar.accounts.models import KeyIdentity
from aisonar.errors import AISonarError, Throttled
from aisonar.gateway.counters import Admit, Finish
from aisonar.gateway.http import Exchange
from aisonar.limits.models import AppliedLimits, EffectiveLimits
from aisonar.limits.store import CheckState, Decision, LimitStore, RateCheck, SlotCheck
from aisonar.observability.metrics import GatewayMetrics
from aisonar.store.redis_client import org_scope
from aisonar.token_usage import TokenUsage

log = logging.getLogger(__name__)

_MINUTE_S = 60.0
# Sets of checks kept, one per key identity in use; all are dropped when it fills.
_MAX_CACHED_CHECKS = 100_000
# Without a tokenizer on this path: about four bytes of prompt to a token.
_BYTES_PER_TOKEN = 4
_NAMES = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "concurrent": "requests in flight",
}


class LimitRefusal(AISonarError):
    """A request refused by a rate limit or a spend quota (or by their store being out of
    reach); `decision` says which, for its usage event."""

    decision: str
    # Refused by the admission, which comes before any channel is chosen (though it is
    # asked with the first attempt's hold): its usage event names no channel.
    by_admission = False


class RateLimited(Throttled, LimitRefusal):
    code = "rate_limit_exceeded"
    by_admission = True
    refusal = "Rate limit reached: {refused_by}. Try again in {seconds} s."

    def __init__(self, refused_by: str, retry_after_s: float) -> None:
        super().__init__(retry_after_s, refused_by=refused_by)
        self.decision = f"refused: {refused_by}"


class LimitStoreUnavailable(LimitRefusal):
    status = 503
    kind = "server_error"
    code = "limit_store_unavailable"
    retry_after = "1"

    def __init__(self, message: str, *, decision: str) -> None:
        super().__init__(message)
        self.decision = decision


ADMITTED = "admitted"


@dataclass(frozen=True, slots=True)
class Admission:
    """What a request is admitted on: its rate checks (the tokens' cost its estimate) and
    slots in flight; none where no limit applies."""

    rates: tuple[RateCheck, ...] = ()
    tokens: tuple[RateCheck, ...] = ()
    slots: tuple[SlotCheck, ...] = ()
    estimate: int = 0

    @property
    def checks(self) -> Admit | None:
        if not (self.rates or self.tokens or self.slots):
            return None
        return Admit((*self.rates, *self.tokens), self.slots)


_UNLIMITED = Admission()
UNCHECKED = "unchecked: limit store unreachable"


@dataclass(frozen=True, slots=True)
class _Checks:
    """What a request of a key is checked against; the tokens' cost is its estimate."""

    requests: tuple[RateCheck, ...]
    tokens: tuple[RateCheck, ...]
    slots: tuple[SlotCheck, ...]

    @classmethod
    def of(
        cls, entries: Iterable[tuple[str, int, AppliedLimits]], slot_ttl_s: float, org_id: str
    ) -> _Checks | None:
        """The checks of `entries`, all of whose counters are in the organization's hash
        slot on a Redis Cluster: one script takes them with its balance."""
        scope = org_scope(org_id)
        requests: list[RateCheck] = []
        tokens: list[RateCheck] = []
        slots: list[SlotCheck] = []
        for dimension, limit, level in entries:
            name = f"{_NAMES.get(dimension, dimension)} of {level.source.kind} {level.label}"
            key = f"{scope}:{level.counted.kind}:{level.counted.id}:{dimension}"
            if dimension == "rpm":
                requests.append(RateCheck(name, key, limit, _MINUTE_S, 1))
            elif dimension == "tpm":
                tokens.append(RateCheck(name, key, limit, _MINUTE_S, 0))
            elif dimension == "concurrent":
                slots.append(SlotCheck(name, key, limit, slot_ttl_s))
        if not (requests or tokens or slots):
            return None
        return cls(tuple(requests), tuple(tokens), tuple(slots))

    def __add__(self, other: _Checks | None) -> _Checks:
        if other is None:
            return self
        return _Checks(
            self.requests + other.requests, self.tokens + other.tokens, self.slots + other.slots
        )


@dataclass
class Limiter:
    # The store of every limit: the requests' (asked through the counters, which share
    # it) and the front ends' own (sign-in attempts, exports, page views).
    store: LimitStore
    metrics: GatewayMetrics
    slot_ttl_s: float
    fail_open: bool
    _checks: dict[int, tuple[EffectiveLimits, _Checks | None]] = field(
        default_factory=dict, init=False, repr=False
    )

    def admission(
        self, identity: KeyIdentity, estimate: int, end_user: str | None = None
    ) -> Admission:
        """What the request is to be admitted on; nothing is asked of the store yet. A
        request that names an end user is checked against its organization's end-user
        limits too, counted for that end user."""
        checks = self._checks_for(identity.limits, identity.org_id)
        if end_user is not None and identity.limits.end_users is not None:
            end_users = identity.limits.for_end_user(end_user)
            own = _Checks.of(end_users, self.slot_ttl_s, identity.org_id)
            checks = own if checks is None else checks + own
        if checks is None:
            return _UNLIMITED
        tokens = tuple(
            RateCheck(t.name, t.key, t.limit, t.window_s, estimate) for t in checks.tokens
        )
        return Admission(checks.requests, tokens, checks.slots, estimate)

    def decided(self, exchange: Exchange, admission: Admission, decision: Decision) -> str:
        """Refuse with RateLimited, or set the x-ratelimit-* headers of an admitted request
        and say so, for its usage event."""
        if not decision.allowed:
            assert decision.refused_by is not None
            raise RateLimited(decision.refused_by, decision.retry_after_s)
        states = decision.states
        rates, tokens = len(admission.rates), len(admission.tokens)
        exchange.extra_headers += [
            *_headers("requests", states[:rates]),
            *_headers("tokens", states[rates : rates + tokens]),
        ]
        return ADMITTED

    def unreachable(self) -> str:
        """The store could not be asked: admit without limits (fail open), or refuse."""
        self.metrics.limit_store_errors.inc()
        if not self.fail_open:
            log.warning("limit store unreachable; request refused (fail closed)")
            refused = LimitStoreUnavailable(
                "Rate limits cannot be checked; retry shortly.",
                decision="refused: limit store unreachable",
            )
            refused.by_admission = True
            raise refused
        log.warning("limit store unreachable; request admitted without rate limits")
        return UNCHECKED

    def _checks_for(self, limits: EffectiveLimits, org_id: str) -> _Checks | None:
        """The checks of a set of limits, made once per set (each key identity holds its
        own until its limits change, and is of one organization) rather than once per
        request."""
        cached = self._checks.get(id(limits))
        if cached is not None and cached[0] is limits:
            return cached[1]
        if len(self._checks) >= _MAX_CACHED_CHECKS:
            self._checks.clear()
        checks = _Checks.of(limits.entries(), self.slot_ttl_s, org_id)
        # The entry keeps `limits` alive, so its id cannot be reused while cached.
        self._checks[id(limits)] = (limits, checks)
        return checks

    @staticmethod
    def finish(admission: Admission, usage: TokenUsage) -> Finish | None:
        """Release the request's slots and count its real tokens instead of the estimate."""
        if not (admission.slots or admission.tokens):
            return None
        used = usage.input_tokens + usage.output_tokens
        return Finish(admission.slots, admission.tokens, used - admission.estimate)


def token_estimate(input_bytes: int, max_output_tokens: int | None) -> int:
    """A request's share of a tokens-per-minute limit until its real count is known: at
    least one token, as the store takes only positive costs."""
    return max(input_bytes // _BYTES_PER_TOKEN + (max_output_tokens or 0), 1)


_HEADER_NAMES = {
    unit: tuple(f"x-ratelimit-{what}-{unit}".encode() for what in ("limit", "remaining", "reset"))
    for unit in ("requests", "tokens")
}


def _headers(unit: str, states: Sequence[CheckState]) -> list[tuple[bytes, bytes]]:
    """OpenAI's headers for the tightest limit of a kind."""
    if not states:
        return []
    tightest = min(states, key=lambda state: state.remaining)
    limit, remaining, reset = _HEADER_NAMES[unit]
    return [
        (limit, str(tightest.limit).encode()),
        (remaining, str(tightest.remaining).encode()),
        (reset, f"{tightest.reset_s:.3g}s".encode()),
    ]
