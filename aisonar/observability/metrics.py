"""The gateway's Prometheus metrics, in a registry of its own per app (no globals): the
GenAI request metrics, the gateway's vitals, and counters its parts increment. With
`AISONAR_OTLP_ENDPOINT` set, each finished request also goes to the OTLP export."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, generate_latest

from aisonar.channels.models import ChannelState
from aisonar.observability.labels import RequestLabeller, RequestLabels
from aisonar.observability.loop_lag import lag_histogram
from aisonar.observability.request_metrics import RequestMetrics
from aisonar.observability.series import FamiliesCollector
from aisonar.observability.vitals import GatewayVitals, VitalsCollector
from aisonar.usage.models import UsageEvent


class Request(Protocol):
    """What a finished request's metrics read of its HTTP exchange."""

    def header(self, name: bytes) -> str | None: ...


class RequestExport(Protocol):
    """Where finished requests go besides Prometheus (the OTLP export)."""

    def record(self, event: UsageEvent, labels: RequestLabels, traceparent: str | None) -> None: ...


class GatewayMetrics:
    def __init__(self, tenant_labels: tuple[str, ...] = (), currency: str = "USD") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = RequestMetrics(RequestLabeller(tenant_labels), currency)
        self.registry.register(FamiliesCollector(self.requests.families))
        self.export: RequestExport | None = None
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
        self.loop_lag = lag_histogram(self.registry)
        self.limit_store_errors = Counter(
            "aisonar_limit_store_errors",
            "Limit store calls that failed; the requests were let through (fail open).",
            registry=self.registry,
        )

    def watch(self, vitals: GatewayVitals) -> None:
        """Report the running gateway's vitals, and name models as its channels do."""
        self.requests.labeller.models.watch(vitals.channels)
        self.registry.register(VitalsCollector(vitals))

    def request_finished(self, event: UsageEvent, exchange: Request) -> None:
        labels = self.requests.observe(event)
        if self.export is not None:
            self.export.record(event, labels, exchange.header(b"traceparent"))

    def channel_changed(self, channel: str, state: ChannelState) -> None:
        self.channel_transitions.labels(channel, state.value).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
