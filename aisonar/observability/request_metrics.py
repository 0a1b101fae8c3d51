"""The GenAI client metrics, recorded once per finished request from its usage event:
operation duration, time to first chunk (streams), token usage by type, and the gateway's
request, cost and limit refusal counters. `/metrics` and the OTLP export both read these
families.

Each combination of labels gets its series once, kept in a dict, so a request costs one
lookup and a few additions."""

from __future__ import annotations

from dataclasses import dataclass

from aisonar.billing.money import UNITS_PER_CREDIT
from aisonar.observability import semconv
from aisonar.observability.labels import RequestLabeller, RequestLabels
from aisonar.observability.series import (
    CounterFamily,
    CounterSeries,
    Family,
    HistogramFamily,
    HistogramSeries,
)
from aisonar.usage.models import UsageEvent

MODEL_KEYS = (
    semconv.OPERATION_NAME,
    semconv.PROVIDER_NAME,
    semconv.REQUEST_MODEL,
    semconv.RESPONSE_MODEL,
)
# The counters name the model asked for; the histograms the one that answered too.
COUNTED_KEYS = MODEL_KEYS[:3]
# How the usage event's limit decision starts when a limit or quota refused the request.
REFUSED = "refused: "


@dataclass(slots=True)
class _Series:
    """The series of one combination of labels; those only some requests need are made on
    first use, so no empty series shows up."""

    duration: HistogramSeries
    requests: CounterSeries
    cost: CounterSeries
    first_chunk: HistogramSeries | None = None
    input_tokens: HistogramSeries | None = None
    output_tokens: HistogramSeries | None = None
    refusals: CounterSeries | None = None


class RequestMetrics:
    def __init__(self, labeller: RequestLabeller, currency: str) -> None:
        self.labeller = labeller
        tenant = labeller.tenant_attributes
        self.duration = HistogramFamily(
            semconv.OPERATION_DURATION,
            "s",
            "GenAI operation duration: from the request's arrival to its last byte.",
            (*MODEL_KEYS, semconv.ERROR_TYPE),
            semconv.DURATION_BUCKETS_S,
        )
        self.first_chunk = HistogramFamily(
            semconv.TIME_TO_FIRST_CHUNK,
            "s",
            "Time to the first chunk of a streamed answer, from the request's arrival.",
            MODEL_KEYS,
            semconv.DURATION_BUCKETS_S,
        )
        self.tokens = HistogramFamily(
            semconv.TOKEN_USAGE,
            "{token}",
            "Input and output tokens per request (billable, as reported or estimated).",
            (*MODEL_KEYS, semconv.TOKEN_TYPE),
            semconv.TOKEN_BUCKETS,
        )
        self.requests = CounterFamily(
            "aisonar.requests",
            "{request}",
            "Metered requests finished, by status class (2xx, 4xx, 5xx).",
            (*COUNTED_KEYS, semconv.STATUS_CLASS, *tenant),
        )
        self.cost = CounterFamily(
            "aisonar.cost",
            f"{{{currency}}}",
            f"Cost of requests as priced, in {currency} (whole units, not micro-units): "
            "what balances are charged when billing is on.",
            (*COUNTED_KEYS, *tenant),
        )
        self.refusals = CounterFamily(
            "aisonar.limit_refusals",
            "{request}",
            "Requests refused by a rate limit or spend quota (or, failing closed, by their "
            "store being out of reach), by error type: rate_limit_error, insufficient_quota, "
            "server_error.",
            (*COUNTED_KEYS, semconv.ERROR_TYPE, *tenant),
        )
        self.families: tuple[Family, ...] = (
            self.duration,
            self.first_chunk,
            self.tokens,
            self.requests,
            self.cost,
            self.refusals,
        )
        self._series: dict[RequestLabels, _Series] = {}

    def observe(self, event: UsageEvent) -> RequestLabels:
        labels = self.labeller.labels(event)
        series = self._series.get(labels) or self._new_series(labels)
        series.duration.observe(event.latency_ms / 1000)
        series.requests.inc()
        if event.cost:
            series.cost.inc(event.cost / UNITS_PER_CREDIT)
        if event.stream and event.ttft_ms is not None:
            first_chunk = series.first_chunk
            if first_chunk is None:
                first_chunk = series.first_chunk = self.first_chunk.child(labels[:4])
            first_chunk.observe(event.ttft_ms / 1000)
        if event.input_tokens or event.output_tokens:
            self._observe_tokens(series, labels, event)
        if event.limit_decision is not None and event.limit_decision.startswith(REFUSED):
            refusals = series.refusals
            if refusals is None:
                refusals = series.refusals = self.refusals.child(
                    (*labels[:3], labels.error_type, *labels.tenant)
                )
            refusals.inc()
        return labels

    def _new_series(self, labels: RequestLabels) -> _Series:
        model, counted = labels[:4], labels[:3]
        series = _Series(
            duration=self.duration.child((*model, labels.error_type)),
            requests=self.requests.child((*counted, labels.status_class, *labels.tenant)),
            cost=self.cost.child((*counted, *labels.tenant)),
        )
        self._series[labels] = series
        return series

    def _observe_tokens(self, series: _Series, labels: RequestLabels, event: UsageEvent) -> None:
        if series.input_tokens is None:
            series.input_tokens = self.tokens.child((*labels[:4], semconv.INPUT))
        series.input_tokens.observe(event.input_tokens)
        if labels.operation == semconv.EMBEDDINGS:  # no output to count
            return
        if series.output_tokens is None:
            series.output_tokens = self.tokens.child((*labels[:4], semconv.OUTPUT))
        series.output_tokens.observe(event.output_tokens)
