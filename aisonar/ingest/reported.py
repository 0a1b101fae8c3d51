"""Usage an application reports about calls it made to providers itself: one shape for
both ways in (usage events, OpenTelemetry GenAI spans), turned into the usage event the
gateway would have recorded, priced from the price database and charged to no one."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.prices import ModelNotPriced, PriceBook
from aisonar.billing.pricing import ModelPrice
from aisonar.clock import utcnow
from aisonar.token_usage import TokenUsage
from aisonar.usage.models import UsageEvent

# Reported events may start at most this far ahead of the receiving server's clock.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(slots=True)
class ReportedUsage:
    """One call, as an application reports it. Tokens follow the gateway's convention:
    `input_tokens` counts all input, cached reads and cache writes included;
    `output_tokens` counts all output, reasoning included."""

    external_id: str
    provider: str
    model: str
    started_at: datetime
    operation: str = "chat"
    response_model: str | None = None
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    latency_ms: int = 0
    ttft_ms: int | None = None
    status_code: int = 200
    error_type: str | None = None
    stream: bool = False
    end_user: str | None = None
    properties: Mapping[str, object] | None = None
    session_id: str | None = None


def reported_event_id(org_id: str, external_id: str) -> str:
    """The stored id of a reported event: the same for the same organization and
    application id (so a retry is recognised), unrelated across organizations (so one
    cannot shadow another's events)."""
    digest = hashlib.blake2b(f"{org_id}\0{external_id}".encode(), digest_size=19)
    return "r_" + digest.hexdigest()


def _price(prices: PriceBook, report: ReportedUsage) -> ModelPrice | None:
    for model in (report.model, report.response_model):
        if model:
            try:
                return prices.price(model, report.provider)
            except ModelNotPriced:
                continue
    return None


def usage_event(
    identity: KeyIdentity, report: ReportedUsage, prices: PriceBook, source: str
) -> UsageEvent:
    """The usage event of a reported call. Its cost is the catalogue (or operator) price
    without markup: the application paid the provider, not this installation."""
    price = _price(prices, report)
    usage = TokenUsage(
        input_tokens=report.input_tokens,
        cached_input_tokens=report.cached_input_tokens,
        cache_write_tokens=report.cache_write_tokens,
        output_tokens=report.output_tokens,
        reasoning_tokens=report.reasoning_tokens,
    )
    failed = report.status_code >= 400
    return UsageEvent(
        id=reported_event_id(identity.org_id, report.external_id),
        started_at=report.started_at,
        org_id=identity.org_id,
        user_id=identity.user_id,
        key_id=identity.key_id,
        client_ip=None,
        endpoint=report.operation,
        requested_model=report.model,
        upstream_model=report.response_model or report.model,
        channel_id=None,
        stream=report.stream,
        status_code=report.status_code,
        error_type=(report.error_type or "error") if failed else None,
        error_message=None,
        input_tokens=report.input_tokens,
        cached_input_tokens=report.cached_input_tokens,
        output_tokens=report.output_tokens,
        reasoning_tokens=report.reasoning_tokens,
        cache_write_tokens=report.cache_write_tokens,
        tokens_estimated=False,
        cost=0 if price is None else price.cost(usage),
        price_version=None if price is None else price.version,
        latency_ms=report.latency_ms,
        ttft_ms=report.ttft_ms,
        provider=report.provider,
        source=source,
        external_id=report.external_id,
        end_user=report.end_user,
        properties=None if report.properties is None else orjson.dumps(report.properties).decode(),
        session_id=report.session_id,
    )


def check_started_at(started_at: datetime, where: str) -> str | None:
    """Why a reported start time is refused, or None."""
    if started_at > utcnow() + CLOCK_SKEW:
        return f"{where}: the start time {started_at.isoformat()} is in the future"
    return None
