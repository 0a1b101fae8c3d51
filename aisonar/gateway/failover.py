"""Failover: try a request's channels in order until one answers.

A connection error, a timeout, an unreadable answer, HTTP 408, 429 or 5xx (and the
upstream refusing the gateway's own credentials) before the client has seen a byte
moves the request to the next channel; after the first byte it is too late, and the
error reaches the client. Each attempt holds and settles on its own, so a failed one
releases its hold and only the answering one is charged. Every failure of a channel is
reported to the circuit breaker."""

from __future__ import annotations

import asyncio
import random
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
)
from aisonar.gateway.health import ChannelHealth
from aisonar.gateway.http import Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.routing import Route
from aisonar.observability.metrics import GatewayMetrics

_RETRYABLE_STATUSES = frozenset({401, 403, 408, 429})
_MAX_BACKOFF_S = 2.0


@dataclass(frozen=True)
class FailoverPolicy:
    health: ChannelHealth
    max_attempts: int
    # The first pause before trying a channel again; doubled each time, with jitter.
    backoff_s: float
    metrics: GatewayMetrics


def channel_fault(error: AISonarError) -> str | None:
    """What went wrong when the channel, not the request, is at fault; else None."""
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


def _backoff(policy: FailoverPolicy, repeat: int) -> float:
    return random.uniform(0, min(_MAX_BACKOFF_S, policy.backoff_s * 2 ** (repeat - 1)))


async def with_failover(
    policy: FailoverPolicy,
    exchange: Exchange,
    meter: RequestMeter,
    routes: list[Route],
    attempt: Callable[[Route], Awaitable[None]],
) -> None:
    """Run `attempt` on the routes in order (round again, after a pause, when there are
    fewer channels than attempts) until one succeeds or the attempts run out."""
    health = policy.health
    tried: dict[str, int] = {}
    last_error: AISonarError | None = None
    for number in range(policy.max_attempts):
        route = routes[number % len(routes)]
        if number and not health.is_available(route.channel_id):
            continue
        repeat = tried.get(route.channel_id, 0)
        if repeat:
            await asyncio.sleep(_backoff(policy, repeat))
        tried[route.channel_id] = repeat + 1
        meter.route = route
        started = time.perf_counter()
        try:
            await attempt(route)
        except AISonarError as error:
            fault = channel_fault(error)
            if fault is None:
                raise
            health.record_failure(
                route.channel_id, fault, retry_after_s=retry_after_seconds(error.retry_after)
            )
            policy.metrics.failed_attempts.labels(route.channel.channel.name, fault).inc()
            if exchange.response_started:
                raise
            meter.attempted(route, fault, started)
            last_error = error
            continue
        health.record_success(route.channel_id)
        if meter.attempts is not None:
            meter.attempted(route, "ok", started)
        return
    assert last_error is not None
    raise last_error
