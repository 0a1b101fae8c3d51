"""Failover: try a request's channels in order until one answers, each at most once.

A connection error, a timeout, an unreadable answer, HTTP 408, 429 or 5xx (and the
upstream refusing the gateway's own credentials) before the client has seen a byte
moves the request to the next channel, never back to one that failed it: a request the
upstream cannot digest would only fail there again. After the first byte it is too late,
and the error reaches the client. Each attempt holds and settles on its own, so a failed
one releases its hold and only the answering one is charged. Every outcome of a channel
is reported to the circuit breaker, with the key that sent the request when the request
itself may have caused the failure. An error that is the request's own (HTTP 400, 404,
413, 422, ...) is no fault of the channel's: it reaches the client as it is."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from aisonar.errors import AISonarError
from aisonar.gateway.errors import (
    UnreadableUpstream,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from aisonar.gateway.health import ChannelHealth
from aisonar.gateway.http import Exchange
from aisonar.gateway.routing import Route
from aisonar.observability.metrics import GatewayMetrics

_RETRYABLE_STATUSES = frozenset({401, 403, 408, 429})
# An upstream saying when to come back speaks for the whole channel only with these.
_CHANNEL_WIDE_RETRY_AFTER = frozenset({429, 503})


@dataclass(frozen=True)
class FailoverPolicy:
    health: ChannelHealth
    max_attempts: int
    metrics: GatewayMetrics


def channel_fault(error: AISonarError) -> str | None:
    """What went wrong when the channel may be at fault, so that another channel may
    answer; None for an error that is the request's own."""
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, UnreadableUpstream):
        return "unreadable"
    if isinstance(error, UpstreamUnavailable):
        return "connect_error"
    if isinstance(error, UpstreamRejected):
        status = error.upstream_status
        if status >= 500 or status in _RETRYABLE_STATUSES or error.status == 502:
            return f"http_{status}"
    return None


def request_may_cause(error: AISonarError) -> bool:
    """Whether the request itself may have provoked a channel fault (an upstream 5xx on a
    body it cannot digest, a timeout on a very long answer) rather than only the channel
    (no connection at all, the gateway's credentials refused, the account rate limited)."""
    if isinstance(error, UpstreamUnreachable):
        return False
    if isinstance(error, UpstreamRejected):
        credentials_refused = error.status == 502 and error.upstream_status < 500
        return not (credentials_refused or error.upstream_status == 429)
    return True


def channel_retry_after(error: AISonarError) -> float | None:
    """The upstream's Retry-After, in seconds, where it speaks for the whole channel."""
    if isinstance(error, UpstreamRejected) and error.upstream_status in _CHANNEL_WIDE_RETRY_AFTER:
        return retry_after_seconds(error.retry_after)
    return None


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


async def with_failover(
    policy: FailoverPolicy,
    exchange: Exchange,
    key_id: str,
    routes: list[Route],
    attempt: Callable[[Route], Awaitable[None]],
    attempted: Callable[[Route, str, float], None],
) -> None:
    """Run `attempt` on the routes in order, each channel once, until one succeeds, the
    attempts run out or no channel is left; the last failure is raised then. `attempted`
    is told of each attempt that failed over, and of the one that answered after one did:
    its route, its outcome (what went wrong, or "ok") and when it started."""
    health = policy.health
    attempts = 0
    last_error: AISonarError | None = None
    for route in routes:
        if attempts == policy.max_attempts:
            break
        # The first route was available a moment ago; later ones may have opened since.
        if attempts and not health.is_available(route.channel_id):
            continue
        attempts += 1
        started = time.perf_counter()
        try:
            await attempt(route)
        except AISonarError as error:
            fault = channel_fault(error)
            if fault is None:
                raise
            health.record_failure(
                route.channel_id,
                fault,
                suspect=key_id if request_may_cause(error) else None,
                retry_after_s=channel_retry_after(error),
            )
            policy.metrics.failed_attempts.labels(route.channel.channel.name, fault).inc()
            if exchange.response_started:
                raise
            attempted(route, fault, started)
            last_error = error
            continue
        health.record_success(route.channel_id)
        if last_error is not None:
            attempted(route, "ok", started)
        return
    assert last_error is not None
    raise last_error
