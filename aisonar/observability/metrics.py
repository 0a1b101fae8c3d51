"""The gateway's Prometheus metrics, in a registry of its own per app (no globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from aisonar.gateway.health import ChannelState

# The value of `aisonar_channel_state` for each state.
STATE_VALUES = {ChannelState.CLOSED: 0, ChannelState.HALF_OPEN: 1, ChannelState.OPEN: 2}


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.channel_state = Gauge(
            "aisonar_channel_state",
            "Circuit breaker state of a channel: 0 in rotation, 1 on trial, 2 cooling down.",
            ["channel"],
            registry=self.registry,
        )
        self.channel_transitions = Counter(
            "aisonar_channel_state_changes",
            "Circuit breaker state changes of a channel, by the state entered.",
            ["channel", "state"],
            registry=self.registry,
        )
        self.failed_attempts = Counter(
            "aisonar_upstream_failed_attempts",
            "Upstream attempts that failed and were retried elsewhere or reported, by cause.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.notice_deliveries = Counter(
            "aisonar_notice_deliveries",
            "Attempts to deliver notices by email or webhook, by channel and result "
            "(delivered, retried, failed).",
            ["channel", "result"],
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "aisonar_sign_ins",
            "Password sign-ins by result: succeeded, failed (wrong email or password), or "
            "throttled (refused before any password was checked).",
            ["result"],
            registry=self.registry,
        )
        self.sign_ups = Counter(
            "aisonar_sign_ups",
            "Self-service sign-ups by result: created, or throttled (too many from one address).",
            ["result"],
            registry=self.registry,
        )
        self.limit_store_errors = Counter(
            "aisonar_limit_store_errors",
            "Limit store calls that failed; the requests were let through (fail open).",
            registry=self.registry,
        )

    def channel_changed(self, channel: str, state: ChannelState) -> None:
        self.channel_state.labels(channel).set(STATE_VALUES[state])
        self.channel_transitions.labels(channel, state.value).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
