"""One usage event per request: metadata only, never content."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

ERROR_MESSAGE_LIMIT = 500


@dataclass(slots=True)
class UsageEvent:
    id: str
    started_at: datetime
    first_byte_at: datetime | None
    ended_at: datetime
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
    tokens_estimated: bool
    latency_ms: int
    ttft_ms: int | None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


USAGE_COLUMNS: tuple[str, ...] = tuple(UsageEvent.__dataclass_fields__)
