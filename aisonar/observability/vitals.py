"""The gateway's own health, read when metrics are collected (never on the hot path):
requests in flight, the usage writer's queue and counts, each channel's breaker state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aisonar.channels.models import ChannelState
from aisonar.observability.channel_view import ChannelView
from aisonar.observability.semconv import prometheus_name

if TYPE_CHECKING:
    from aisonar.usage.writer import UsageWriter

# The value of `aisonar_channel_state` for each state.
STATE_VALUES = {ChannelState.CLOSED: 0, ChannelState.HALF_OPEN: 1, ChannelState.OPEN: 2}
CHANNEL_STATE = "aisonar.channel_state"
CHANNEL_STATE_HELP = (
    "Circuit breaker state of each enabled channel: 0 in rotation, 1 on trial, 2 cooling down."
)


@dataclass(frozen=True)
class GatewayVitals:
    in_flight: Callable[[], int]
    writer: UsageWriter
    channels: Callable[[], ChannelView]

    def channel_states(self) -> Iterator[tuple[str, int]]:
        """(channel name, state value) of every channel in the current table."""
        table = self.channels()
        for channel_id, entry in table.channels.items():
            yield entry.channel.name, STATE_VALUES[table.health.state(channel_id)]


@dataclass(frozen=True)
class Vital:
    """One number, named as OpenTelemetry names it."""

    name: str
    unit: str
    description: str
    counter: bool
    read: Callable[[GatewayVitals], int]


VITALS = (
    Vital(
        "aisonar.requests_in_flight",
        "{request}",
        "HTTP requests being served (a scrape of /metrics counts itself).",
        False,
        lambda gateway: gateway.in_flight(),
    ),
    Vital(
        "aisonar.usage_writer.queue_depth",
        "{event}",
        "Usage events waiting for the writer's next batch.",
        False,
        lambda gateway: gateway.writer.queue_depth,
    ),
    Vital(
        "aisonar.usage_writer.events_written",
        "{event}",
        "Usage events written to the database.",
        True,
        lambda gateway: gateway.writer.written,
    ),
    Vital(
        "aisonar.usage_writer.events_dropped",
        "{event}",
        "Usage events dropped because the writer's queue was full.",
        True,
        lambda gateway: gateway.writer.dropped,
    ),
)


class VitalsCollector(Collector):
    def __init__(self, vitals: GatewayVitals) -> None:
        self._vitals = vitals

    def collect(self) -> Iterator[Metric]:
        for vital in VITALS:
            kind = CounterMetricFamily if vital.counter else GaugeMetricFamily
            name = prometheus_name(vital.name, vital.unit)
            yield kind(name, vital.description, vital.read(self._vitals))
        states = GaugeMetricFamily(
            prometheus_name(CHANNEL_STATE, ""), CHANNEL_STATE_HELP, labels=["channel"]
        )
        for name, value in self._vitals.channel_states():
            states.add_metric([name], value)
        yield states
