"""Each finished request as a GenAI client span, built from its usage event once the request
is over: its start and end are the event's, and nothing is traced while it runs.

The span is finished when it is made, so it is built as the SDK's `ReadableSpan` and handed
straight to the span processor (the BatchSpanProcessor), without the machinery a live span
needs (sampler, lock, attribute limits): a quarter of the cost (bench/metrics.py).
Sampling follows the SDK default, ParentBased(ALWAYS_ON): a client's W3C `traceparent` makes
the span its child, and is followed when it says not to sample; without one the span
starts a trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    get_current_span,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from aisonar.observability import semconv
from aisonar.observability.labels import RequestLabels
from aisonar.usage.models import UsageEvent

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NS_PER_MS = 1_000_000
_PROPAGATOR = TraceContextTextMapPropagator()
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_OK, _ERROR = Status(StatusCode.UNSET), Status(StatusCode.ERROR)


def unix_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, in integers (a float loses the last digits)."""
    return (moment - _EPOCH) // _MICROSECOND * 1000


def parent_span(traceparent: str | None) -> SpanContext | None:
    """The client's span, if it sent a readable `traceparent` (else it is ignored, as the
    W3C recommendation says)."""
    if traceparent is None:
        return None
    context = get_current_span(_PROPAGATOR.extract({"traceparent": traceparent}))
    span = context.get_span_context()
    return span if span.is_valid else None


class SpanExport:
    def __init__(
        self,
        processor: SpanProcessor,
        resource: Resource,
        scope: InstrumentationScope,
        tenant_attributes: tuple[str, ...],
    ) -> None:
        self._processor = processor
        self._resource = resource
        self._scope = scope
        self._tenant_attributes = tenant_attributes
        self._ids = RandomIdGenerator()

    def record(self, event: UsageEvent, labels: RequestLabels, traceparent: str | None) -> None:
        parent = parent_span(traceparent)
        if parent is not None and not parent.trace_flags.sampled:
            return
        trace_id = parent.trace_id if parent is not None else self._ids.generate_trace_id()
        start = unix_ns(event.started_at)
        # The bounded model name keeps span names few; the attribute has the one asked for.
        name = f"{labels.operation} {labels.request_model}".rstrip()
        span = ReadableSpan(
            name,
            context=SpanContext(trace_id, self._ids.generate_span_id(), False, _SAMPLED),
            parent=parent,
            resource=self._resource,
            attributes=self._attributes(event, labels),
            kind=SpanKind.CLIENT,
            status=_ERROR if labels.error_type else _OK,
            start_time=start,
            end_time=start + event.latency_ms * _NS_PER_MS,
            instrumentation_scope=self._scope,
        )
        self._processor.on_end(span)

    def _attributes(self, event: UsageEvent, labels: RequestLabels) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {
            semconv.OPERATION_NAME: labels.operation,
            semconv.REQUEST_STREAM: event.stream,
            semconv.HTTP_STATUS_CODE: event.status_code,
            "aisonar.request_id": event.id,
        }
        optional: tuple[tuple[str, str | None], ...] = (
            (semconv.PROVIDER_NAME, labels.provider),
            (semconv.REQUEST_MODEL, event.requested_model),
            (semconv.RESPONSE_MODEL, event.upstream_model),
            (semconv.ERROR_TYPE, labels.error_type),
        )
        attributes.update((key, value) for key, value in optional if value)
        if event.input_tokens or event.output_tokens:
            attributes.update(_usage(event))
        if event.stream and event.ttft_ms is not None:
            attributes[semconv.RESPONSE_TIME_TO_FIRST_CHUNK] = event.ttft_ms / 1000
        tenant = zip(self._tenant_attributes, labels.tenant, strict=True)
        attributes.update((key, value) for key, value in tenant if value)
        return attributes


def _usage(event: UsageEvent) -> dict[str, AttributeValue]:
    usage: dict[str, AttributeValue] = {
        semconv.USAGE_INPUT_TOKENS: event.input_tokens,
        semconv.USAGE_OUTPUT_TOKENS: event.output_tokens,
    }
    for key, count in (
        (semconv.USAGE_CACHE_READ_INPUT_TOKENS, event.cached_input_tokens),
        (semconv.USAGE_CACHE_WRITE_INPUT_TOKENS, event.cache_write_tokens),
        (semconv.USAGE_REASONING_OUTPUT_TOKENS, event.reasoning_tokens),
    ):
        if count:
            usage[key] = count
    return usage
