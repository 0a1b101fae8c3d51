"""Record: what one request did, gathered as it runs and handed to the usage writer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from aisonar.accounts.models import KeyIdentity
from aisonar.clock import utcnow
from aisonar.errors import AISonarError
from aisonar.gateway.admission import ADMITTED
from aisonar.gateway.attribution import UNATTRIBUTED, Attribution
from aisonar.token_usage import TokenUsage
from aisonar.usage.models import ERROR_MESSAGE_LIMIT, UsageEvent

if TYPE_CHECKING:
    from aisonar.gateway.charging import Hold
    from aisonar.gateway.routing import Route


@dataclass(slots=True)
class RequestMeter:
    request_id: str
    endpoint: str
    client_ip: str | None
    started_at: datetime = field(default_factory=utcnow)
    _started: float = field(default_factory=time.perf_counter)
    _first_byte: float | None = None
    # The time waited on upstreams, and when the attempt now waiting on one sent its request.
    _upstream_s: float = 0.0
    _sent: float | None = None
    # The answering attempt's hold, which prices its usage.
    hold: Hold | None = None
    identity: KeyIdentity | None = None
    requested_model: str | None = None
    route: Route | None = None
    stream: bool = False
    usage: TokenUsage = field(default_factory=TokenUsage)
    error: AISonarError | None = None
    cost: int = 0
    price_version: str | None = None
    # Every attempt, once a request has gone to more than one channel.
    attempts: list[dict[str, Any]] | None = None
    limit_decision: str | None = None
    attribution: Attribution = UNATTRIBUTED

    def decided(self, decision: str | None) -> None:
        """Note what a rate limit or spend quota decided: a later decision replaces an
        earlier one, but a mere "admitted" never hides another's."""
        if decision is not None and (self.limit_decision is None or decision != ADMITTED):
            self.limit_decision = decision

    def attempted(self, route: Route, outcome: str, started: float) -> None:
        """Note one attempt's end: "ok" or what went wrong."""
        if self.attempts is None:
            self.attempts = []
        latency_ms = round((time.perf_counter() - started) * 1000)
        self.attempts.append(
            {"channel_id": route.channel_id, "outcome": outcome, "latency_ms": latency_ms}
        )

    def first_byte(self) -> None:
        if self._first_byte is None:
            self._first_byte = time.perf_counter()

    def sending(self) -> None:
        """Note that an attempt's request is going upstream: the gateway waits on the
        provider until `answered`."""
        self._sent = time.perf_counter()

    def answered(self) -> None:
        """Note that the upstream answered (the first chunk of a stream, a whole JSON
        answer) or failed the attempt."""
        if self._sent is not None:
            self._upstream_s += time.perf_counter() - self._sent
            self._sent = None

    def overhead_ms(self) -> float:
        """The milliseconds spent in the gateway so far: since the request arrived, less
        every wait on an upstream."""
        elapsed = time.perf_counter() - self._started - self._upstream_s
        return max(elapsed, 0.0) * 1000

    def charged(self) -> int:
        """What the request is charged: what its answering attempt's hold makes of its
        usage (computed the same way when the attempt is settled), 0 with no hold."""
        charge = None if self.hold is None else self.hold.charge(self.usage)
        return 0 if charge is None else charge.cost

    def finish(self, status_code: int) -> UsageEvent:
        ended = time.perf_counter()
        elapsed = ended - self._started
        ttft = None if self._first_byte is None else self._first_byte - self._started
        identity, route, error = self.identity, self.route, self.error
        return UsageEvent(
            id=self.request_id,
            started_at=self.started_at,
            org_id=identity.org_id if identity else None,
            user_id=identity.user_id if identity else None,
            key_id=identity.key_id if identity else None,
            client_ip=self.client_ip,
            endpoint=self.endpoint,
            requested_model=self.requested_model,
            upstream_model=route.upstream_model if route else None,
            channel_id=route.channel.channel.id if route else None,
            stream=self.stream,
            status_code=status_code,
            error_type=error.kind if error else None,
            error_message=error.recorded_message[:ERROR_MESSAGE_LIMIT] if error else None,
            input_tokens=self.usage.input_tokens,
            cached_input_tokens=self.usage.cached_input_tokens,
            output_tokens=self.usage.output_tokens,
            reasoning_tokens=self.usage.reasoning_tokens,
            cache_write_tokens=self.usage.cache_write_tokens,
            tokens_estimated=self.usage.estimated,
            cost=self.cost,
            price_version=self.price_version,
            latency_ms=round(elapsed * 1000),
            ttft_ms=None if ttft is None else round(ttft * 1000),
            attempts=None if self.attempts is None else orjson.dumps(self.attempts).decode(),
            limit_decision=self.limit_decision,
            provider=route.priced_provider if route else None,
            end_user=self.attribution.end_user,
            properties=self.attribution.properties,
            session_id=self.attribution.session_id,
        )
