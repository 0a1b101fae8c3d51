"""One usage event per request: metadata only, never content.

The first-byte and end times are `started_at` plus `ttft_ms` and `latency_ms`; they are
derived where needed (exports) rather than stored twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ERROR_MESSAGE_LIMIT = 500


@dataclass(slots=True)
class UsageEvent:
    id: str
    started_at: datetime
    org_id: str | None
    user_id: str | None
    key_id: str | None
    client_ip: str | None
    endpoint: str
    requested_model: str | None
    upstream_model: str | None
    channel_id: str | None
    stream: bool
    status_code: int
    error_type: str | None
    error_message: str | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cache_write_tokens: int
    tokens_estimated: bool
    cost: int
    price_version: str | None
    latency_ms: int
    ttft_ms: int | None
    # JSON: null when the first channel tried answered, else every attempt in order.
    attempts: str | None = None
    # Null when no rate limit applies; "admitted", "refused: <limit>" or "unchecked: <why>".
    limit_decision: str | None = None
    # The upstream's provider, when one was reached.
    provider: str | None = None
    # gateway, or what an application that calls providers itself reported it through:
    # ingest (usage events) or otel (OpenTelemetry GenAI spans).
    source: str = "gateway"
    # Reported events: the application's own id for the event (`id` is derived from it
    # and the organization).
    external_id: str | None = None
    # Attribution, from the request's x-aisonar-* headers (or the body's end user), or as
    # an application reported it: its end user, custom properties as a JSON object, and
    # session.
    end_user: str | None = None
    properties: str | None = None
    session_id: str | None = None


USAGE_COLUMNS: tuple[str, ...] = tuple(UsageEvent.__dataclass_fields__)
