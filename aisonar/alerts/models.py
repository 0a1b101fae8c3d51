"""Alert rules: a condition on an organization's usage or balance, ok or firing, and the
times each fired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aisonar.notify.notices import Channel


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
    # The balance lasts fewer days than the threshold (whole days) at the rate it was
    # spent over the window (default 7d, `forecast.py`).
    FORECAST = "forecast"


class AlertState(StrEnum):
    OK = "ok"
    FIRING = "firing"


PERCENTILES = ("p50", "p90", "p95", "p99")
SOURCES = ("gateway", "ingest", "otel")
# The kinds read from the rollups over a window, and those a minimum volume guards.
WINDOWED = frozenset({AlertKind.COST, AlertKind.ERROR_RATE, AlertKind.LATENCY, AlertKind.TTFT})
VOLUME_GUARDED = frozenset({AlertKind.ERROR_RATE, AlertKind.LATENCY, AlertKind.TTFT})
PERCENTILE_KINDS = frozenset({AlertKind.LATENCY, AlertKind.TTFT})
# The kinds with a window: the usage ones, and the forecast's spend rate.
WINDOW_KINDS = WINDOWED | {AlertKind.FORECAST}
# Those that fire below their threshold; the others fire above it.
FIRE_BELOW = frozenset({AlertKind.BALANCE, AlertKind.FORECAST})
# How a rule's notices may go out; a new rule's go by every one.
CHANNELS = tuple(sorted(Channel))


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
    channels: tuple[str, ...] | None = None
    # Only this end user's usage counts; or only that whose custom property is so
    # ("name=value").
    end_user: str | None = None
    property: str | None = None


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
    # Sorted: email, inbox, webhook, or some of them.
    channels: tuple[str, ...]
    end_user: str | None
    property_name: str | None
    property_value: str | None


@dataclass(frozen=True)
class Notified:
    """One delivery of a firing's notice: the firing's (`fired`) or its resolution's."""

    notice: str
    channel: str
    to: str
    status: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class Firing:
    """A time a rule fired: the measure and threshold then, in the rule's unit as its
    notice showed them; when it resolved (None while it fires), and whom it reached."""

    id: int
    rule_id: str
    org_id: str
    fired_at: datetime
    observed: str
    threshold: str
    channels: tuple[str, ...]
    resolved_at: datetime | None
    resolved_observed: str | None
    notified: tuple[Notified, ...]
