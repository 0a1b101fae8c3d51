"""Webhook endpoints and the deliveries of notices to mailboxes and endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    # Out of attempts, or refused for good (a mailbox that does not exist).
    FAILED = "failed"


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    org_id: str
    url: str
    # The notice kinds it receives; None is every kind.
    kinds: list[str] | None
    description: str
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: int
    notice_id: int
    kind: str
    channel: str
    user_id: str | None
    endpoint_id: str | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
