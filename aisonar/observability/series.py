"""Counters and histograms kept as plain numbers, one aggregation that both `/metrics` and
the OTLP export read.

A request adds to them with a bisect and a few additions, without a lock: the event
loop's thread is the only writer. Readers on other threads (the OTLP export) copy a
family's series and each series' numbers first, and may see one request half-added, which
a metric can afford. prometheus_client's own instruments take a lock per value and scan
their buckets in Python: several times the cost (bench/metrics.py); OpenTelemetry's SDK
instruments cost more still."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from aisonar.observability.semconv import prometheus_label, prometheus_name

LabelValues = tuple[str, ...]


class HistogramSeries:
    __slots__ = ("bounds", "counts", "max", "min", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        # Per bucket, not cumulative; the last one is above every bound.
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value


class CounterSeries:
    __slots__ = ("value",)

    def __init__(self) -> None:
        # An int while only whole amounts are added (requests), so OTLP sends an int.
        self.value: float = 0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


@dataclass(frozen=True)
class CounterFamily:
    """Named as OpenTelemetry names it (`aisonar.requests`, unit `{request}`); label keys
    are attribute keys."""

    name: str
    unit: str
    description: str
    label_keys: tuple[str, ...]
    series: dict[LabelValues, CounterSeries] = field(default_factory=dict)
    started_ns: int = field(default_factory=time.time_ns)

    def child(self, values: LabelValues) -> CounterSeries:
        series = self.series.get(values)
        if series is None:
            series = self.series[values] = CounterSeries()
        return series

    def snapshot(self) -> list[tuple[LabelValues, float]]:
        return [(values, series.value) for values, series in list(self.series.items())]


@dataclass(frozen=True)
class HistogramFamily:
    name: str
    unit: str
    description: str
    label_keys: tuple[str, ...]
    bounds: tuple[float, ...]
    series: dict[LabelValues, HistogramSeries] = field(default_factory=dict)
    started_ns: int = field(default_factory=time.time_ns)

    def child(self, values: LabelValues) -> HistogramSeries:
        series = self.series.get(values)
        if series is None:
            series = self.series[values] = HistogramSeries(self.bounds)
        return series

    def snapshot(self) -> list[tuple[LabelValues, HistogramSeries]]:
        """Copies, safe to read on another thread."""
        copies = []
        for values, series in list(self.series.items()):
            copy = HistogramSeries(self.bounds)
            copy.counts, copy.sum = list(series.counts), series.sum
            copy.min, copy.max = series.min, series.max
            copies.append((values, copy))
        return copies


Family = CounterFamily | HistogramFamily


def _prometheus_family(family: Family) -> Metric:
    name = prometheus_name(family.name, family.unit)
    labels = [prometheus_label(key) for key in family.label_keys]
    if isinstance(family, CounterFamily):
        counter = CounterMetricFamily(name, family.description, labels=labels)
        for values, total in family.snapshot():
            counter.add_metric(list(values), total)
        return counter
    histogram = HistogramMetricFamily(name, family.description, labels=labels)
    bounds = [*map(floatToGoString, family.bounds), "+Inf"]
    for values, series in family.snapshot():
        cumulative = list(zip(bounds, accumulate(series.counts), strict=True))
        histogram.add_metric(list(values), cumulative, series.sum)
    return histogram


class FamiliesCollector(Collector):
    """The families in Prometheus' exposition."""

    def __init__(self, families: tuple[Family, ...]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield _prometheus_family(family)
