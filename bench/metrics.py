"""What recording a finished request in the metrics costs: nanoseconds per request, on the
event loop's thread, after the request has answered.

Events come from bench/usage_writer.py's generator (12 models on 3 providers, 60 %
streamed, 4 % errors, `--orgs` organizations of 5 users and keys), generated before the
clock starts; the channel table lists every model, as in the gateway. Each scenario
records `--requests` events after a warm-up of the same number (which makes every label
combination's series once):

- labels: the label values alone (`RequestLabeller.labels`);
- metrics: what the gateway does per request with the defaults (labels, one dict lookup,
  the histograms and counters that `/metrics` and the OTLP export both read);
- metrics + tenant labels: with `AISONAR_METRICS_TENANT_LABELS=org,user,key`;
- metrics + OTLP span: as with `AISONAR_OTLP_ENDPOINT` set, the span handed to a
  BatchSpanProcessor whose exporter discards (no network, no encoding timed).

Then the alternatives the design turned down, per single operation: a histogram
observation through prometheus_client (looked up by labels, or a kept child), ours, and
OpenTelemetry's SDK histogram; a span through the SDK's tracer against ours (a
ReadableSpan handed to the processor). And the time to render `/metrics`.

    python bench/metrics.py [--requests 200000] [--orgs 100]

Prints figures; never fails on them."""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry, Histogram

from aisonar.channels.models import Channel, ChannelTimeouts, ChannelWithSecret
from aisonar.clock import utcnow
from aisonar.gateway.health import ChannelHealth
from aisonar.gateway.routing import ChannelTable
from aisonar.observability.metrics import GatewayMetrics
from aisonar.observability.otlp_spans import SpanExport
from aisonar.observability.semconv import DURATION_BUCKETS_S
from aisonar.observability.series import HistogramSeries
from aisonar.usage.models import UsageEvent

sys.path.insert(0, str(Path(__file__).parent))
from aisonar.testing.usage_traffic import CHANNELS, MODELS, generated

TIMEOUTS = ChannelTimeouts(connect_s=10, first_byte_s=300, total_s=600)
LABELS = ("chat", "openai", "gpt-4o", "gpt-4o", "")
ATTRIBUTES = dict(zip(("a", "b", "c", "d", "e"), LABELS, strict=True))


class Discarding(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def channel_table() -> ChannelTable:
    channels = [
        ChannelWithSecret(
            Channel(
                id=f"chn_{provider}_{number}",
                name=f"{provider}-{number}",
                provider=provider,
                base_url=f"http://{provider}.example/v1",
                models={model: model for owner, model in MODELS if owner == provider},
                enabled=True,
            ),
            "sk-bench",
        )
        for provider, count in CHANNELS.items()
        for number in range(count)
    ]
    return ChannelTable(channels, ChannelHealth(), TIMEOUTS)


def gateway_metrics(table: ChannelTable, tenant_labels: tuple[str, ...] = ()) -> GatewayMetrics:
    metrics = GatewayMetrics(tenant_labels)
    metrics.requests.labeller.models.watch(lambda: table)
    return metrics


def with_span(metrics: GatewayMetrics, requests: int) -> Callable[[UsageEvent], None]:
    processor = BatchSpanProcessor(Discarding(), max_queue_size=requests)
    spans = SpanExport(processor, Resource({}), InstrumentationScope("bench"), ())

    def record(event: UsageEvent) -> None:
        spans.record(event, metrics.requests.observe(event), None)

    return record


def ns_per_call(record: Callable[[UsageEvent], object], events: list[UsageEvent]) -> float:
    for event in events:  # warm-up: every combination's series are made
        record(event)
    started = time.perf_counter_ns()
    for event in events:
        record(event)
    return (time.perf_counter_ns() - started) / len(events)


def ns_per_operation(operation: Callable[[], object], rounds: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(rounds):
        operation()
    return (time.perf_counter_ns() - started) / rounds


def alternatives(event: UsageEvent, rounds: int) -> list[tuple[str, Callable[[], object]]]:
    prometheus = Histogram(
        "h", "h", list(ATTRIBUTES), buckets=DURATION_BUCKETS_S, registry=CollectorRegistry()
    )
    child, ours = prometheus.labels(*LABELS), HistogramSeries(DURATION_BUCKETS_S)
    meter = MeterProvider([InMemoryMetricReader()], shutdown_on_exit=False).get_meter("bench")
    otel = meter.create_histogram("h", explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S)
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(BatchSpanProcessor(Discarding(), max_queue_size=rounds))
    tracer = tracer_provider.get_tracer("bench")

    def sdk_span() -> None:
        tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=ATTRIBUTES).end()

    processor = BatchSpanProcessor(Discarding(), max_queue_size=rounds)
    ours_span = SpanExport(processor, Resource({}), InstrumentationScope("bench"), ())
    labels = GatewayMetrics().requests.labeller.labels(event)

    return [
        ("prometheus_client, labels().observe()", lambda: prometheus.labels(*LABELS).observe(0.5)),
        ("prometheus_client, kept child", lambda: child.observe(0.5)),
        ("HistogramSeries.observe", lambda: ours.observe(0.5)),
        ("OpenTelemetry SDK histogram.record", lambda: otel.record(0.5, ATTRIBUTES)),
        ("OpenTelemetry SDK span, start and end", sdk_span),
        ("SpanExport.record (a ReadableSpan)", lambda: ours_span.record(event, labels, None)),
    ]


def main(arguments: argparse.Namespace) -> None:
    source = generated(arguments.orgs, utcnow() - timedelta(minutes=1), per_second=20_000)
    events = list(itertools.islice(source, arguments.requests))
    table = channel_table()
    plain = gateway_metrics(table)
    scenarios: list[tuple[str, Callable[[UsageEvent], object]]] = [
        ("labels", gateway_metrics(table).requests.labeller.labels),
        ("metrics", plain.requests.observe),
        (
            "metrics + tenant labels",
            gateway_metrics(table, ("org", "user", "key")).requests.observe,
        ),
        ("metrics + OTLP span", with_span(gateway_metrics(table), arguments.requests * 2)),
    ]
    print(f"{len(events):,} requests per scenario, after as many to warm up")
    for name, record in scenarios:
        print(f"  {name:<38} {ns_per_call(record, events):>8,.0f} ns per request")
    print("single operations")
    for name, operation in alternatives(events[0], arguments.requests):
        print(f"  {name:<38} {ns_per_operation(operation, arguments.requests):>8,.0f} ns")
    started = time.perf_counter()
    body = plain.render()
    print(f"/metrics: {len(body):,} bytes in {(time.perf_counter() - started) * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--orgs", type=int, default=100)
    main(parser.parse_args())
