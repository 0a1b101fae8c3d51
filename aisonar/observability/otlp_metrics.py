"""The metrics of `/metrics`, for the OTLP export.

The request families are the very aggregation `/metrics` reads: when the SDK's
PeriodicExportingMetricReader exports, `WithRequestMetrics` (around the OTLP exporter) adds
them, converted, to what the reader collected. Nothing is recorded twice, and a request
pays nothing more for the export (the SDK's synchronous instruments cost tens of
microseconds a request, bench/metrics.py). The vitals are the SDK's observable
instruments, read at each export."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from aisonar.observability.series import CounterFamily, Family, LabelValues
from aisonar.observability.vitals import (
    CHANNEL_STATE,
    CHANNEL_STATE_HELP,
    VITALS,
    GatewayVitals,
    Vital,
)

CUMULATIVE = AggregationTemporality.CUMULATIVE


def _attributes(keys: tuple[str, ...], values: LabelValues) -> dict[str, str]:
    """Attributes without the empty ones (a request no channel took has no provider)."""
    return {key: value for key, value in zip(keys, values, strict=True) if value}


def family_metric(family: Family, now_ns: int) -> Metric:
    keys, start = family.label_keys, family.started_ns
    data: Sum | Histogram
    if isinstance(family, CounterFamily):
        numbers = [
            NumberDataPoint(_attributes(keys, values), start, now_ns, total)
            for values, total in family.snapshot()
        ]
        data = Sum(numbers, CUMULATIVE, is_monotonic=True)
    else:
        histograms = [
            HistogramDataPoint(
                _attributes(keys, values),
                start,
                now_ns,
                count=sum(series.counts),
                sum=series.sum,
                bucket_counts=series.counts,
                explicit_bounds=family.bounds,
                min=series.min,
                max=series.max,
            )
            for values, series in family.snapshot()
        ]
        data = Histogram(histograms, CUMULATIVE)
    return Metric(family.name, family.description, family.unit, data)


class WithRequestMetrics(MetricExporter):
    """An exporter that adds the request families to each export of the one it wraps."""

    def __init__(
        self, exporter: MetricExporter, families: tuple[Family, ...], scope: InstrumentationScope
    ) -> None:
        super().__init__()
        self._exporter = exporter
        self._families = families
        self._scope = scope

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return self._exporter.export(self._with_families(metrics_data), timeout_millis)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._exporter.shutdown(timeout_millis)

    def _with_families(self, metrics_data: MetricsData) -> MetricsData:
        now = time.time_ns()
        metrics = [family_metric(family, now) for family in self._families if family.series]
        if not metrics or not metrics_data.resource_metrics:
            return metrics_data
        first, *others = metrics_data.resource_metrics
        # The OTLP encoder keeps one entry per scope (the last): add to the collected one.
        ours = [scope for scope in first.scope_metrics if scope.scope.name == self._scope.name]
        scopes = [scope for scope in first.scope_metrics if scope not in ours]
        collected = [metric for scope in ours for metric in scope.metrics]
        scopes.append(ScopeMetrics(self._scope, [*collected, *metrics], ""))
        return MetricsData([ResourceMetrics(first.resource, scopes, first.schema_url), *others])


def _observing(
    vital: Vital, gateway: GatewayVitals
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(vital.read(gateway))]

    return callback


def observe_vitals(meter: Meter, gateway: GatewayVitals) -> None:
    for vital in VITALS:
        create = meter.create_observable_counter if vital.counter else meter.create_observable_gauge
        create(vital.name, [_observing(vital, gateway)], vital.unit, vital.description)

    def channel_states(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(value, {"channel": name}) for name, value in gateway.channel_states()]

    meter.create_observable_gauge(CHANNEL_STATE, [channel_states], description=CHANNEL_STATE_HELP)
