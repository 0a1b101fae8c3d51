"""Alert rules: a condition on an organization's usage or balance, ok or firing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AlertKind(StrEnum):
    # Spend over the window above the threshold (credits).
    COST = "cost"
    # Share of requests with status 400 or above over the window, above the threshold.
    ERROR_RATE = "error_rate"
    # A percentile of latency over the window above the threshold (ms).
    LATENCY = "latency"
    # The same of the time to first token (streamed requests).
    TTFT = "ttft"
    # The balance below the threshold (credits); no window.
    BALANCE = "balance"


class AlertState(StrEnum):
    OK = "ok"
    FIRING = "firing"


PERCENTILES = ("p50", "p90", "p95", "p99")
SOURCES = ("gateway", "ingest", "otel")
# The kinds read from the rollups over a window, and those a minimum volume guards.
WINDOWED = frozenset({AlertKind.COST, AlertKind.ERROR_RATE, AlertKind.LATENCY, AlertKind.TTFT})
VOLUME_GUARDED = frozenset({AlertKind.ERROR_RATE, AlertKind.LATENCY, AlertKind.TTFT})
PERCENTILE_KINDS = frozenset({AlertKind.LATENCY, AlertKind.TTFT})


@dataclass(frozen=True)
class RuleSettings:
    """What a person sets on a rule, as the API and the command line take it: the
    threshold a decimal string in the kind's unit (credits, a fraction such as 0.05 or
    5%, milliseconds), the window a duration such as 15m, 2h or 7d."""

    kind: AlertKind
    threshold: str
    window: str | None = None
    percentile: str | None = None
    min_requests: int | None = None
    model: str | None = None
    source: str | None = None
    name: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class AlertRule:
    id: str
    org_id: str
    name: str
    kind: AlertKind
    # Micro-credits (cost, balance), millionths (error_rate) or milliseconds (latency, ttft).
    threshold: int
    window_s: int | None
    percentile: str | None
    min_requests: int | None
    model: str | None
    source: str | None
    enabled: bool
    state: AlertState
    state_changed_at: datetime
    # Bumped by every edit and change of state: a change applies only to what was read.
    revision: int
    created_at: datetime
