"""Optional OTLP/HTTP (protobuf) export, on when `AISONAR_OTLP_ENDPOINT` is set: each
finished request as a span (the SDK's BatchSpanProcessor) and the metrics (its
PeriodicExportingMetricReader), through the OpenTelemetry SDK's OTLP exporters. The app
imports this module only then; the providers are the app's own, never the global ones."""

from __future__ import annotations

import uuid

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from aisonar.config import Settings, otlp_header_pairs
from aisonar.observability.labels import RequestLabels
from aisonar.observability.otlp_metrics import WithRequestMetrics, observe_vitals
from aisonar.observability.otlp_spans import SpanExport
from aisonar.observability.request_metrics import RequestMetrics
from aisonar.observability.vitals import GatewayVitals
from aisonar.usage.models import UsageEvent

_SCOPE = InstrumentationScope("aisonar")


def _resource() -> Resource:
    # Each process its own instance: the metrics of several workers must not collide.
    return Resource({SERVICE_NAME: "aisonar", SERVICE_INSTANCE_ID: uuid.uuid4().hex})


class OtlpExport:
    def __init__(self, settings: Settings, requests: RequestMetrics, vitals: GatewayVitals):
        endpoint = settings.otlp_endpoint.rstrip("/")
        headers = otlp_header_pairs(settings.otlp_headers)
        resource = _resource()
        self._span_processor: SpanProcessor = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers=headers)
        )
        self._spans = SpanExport(
            self._span_processor, resource, _SCOPE, requests.labeller.tenant_attributes
        )
        exporter = OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", headers=headers)
        reader = PeriodicExportingMetricReader(
            WithRequestMetrics(exporter, requests.families, _SCOPE),
            export_interval_millis=settings.otlp_metrics_interval_s * 1000,
        )
        self._meter_provider = MeterProvider([reader], resource=resource, shutdown_on_exit=False)
        observe_vitals(self._meter_provider.get_meter(_SCOPE.name), vitals)

    def record(self, event: UsageEvent, labels: RequestLabels, traceparent: str | None) -> None:
        self._spans.record(event, labels, traceparent)

    def shutdown(self) -> None:
        """Export what is pending and stop. It blocks (the exporters' threads are joined):
        run it off the event loop."""
        self._span_processor.shutdown()
        self._meter_provider.shutdown()
