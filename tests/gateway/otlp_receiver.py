"""A real OTLP/HTTP receiver on loopback: it decodes the protobuf export requests sent to
`/v1/traces` and `/v1/metrics`, and keeps their spans, metrics and headers."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from aisonar.testing.gateway_server import free_port

PROTOBUF = "application/x-protobuf"


@dataclass
class OtlpReceiver:
    url: str
    spans: list[Span] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    resources: list[dict[str, object]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def value_of(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def attributes(pairs: list[KeyValue]) -> dict[str, object]:
    return {pair.key: value_of(pair.value) for pair in pairs}


async def _body(request: web.Request) -> bytes:
    body = await request.read()
    return gzip.decompress(body) if request.headers.get("Content-Encoding") == "gzip" else body


@asynccontextmanager
async def otlp_receiver() -> AsyncIterator[OtlpReceiver]:
    port = free_port()
    receiver = OtlpReceiver(f"http://127.0.0.1:{port}")

    async def traces(request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest.FromString(await _body(request))
        receiver.headers.append(dict(request.headers))
        for resource_spans in export.resource_spans:
            receiver.resources.append(attributes(list(resource_spans.resource.attributes)))
            for scope_spans in resource_spans.scope_spans:
                receiver.spans.extend(scope_spans.spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=answer, content_type=PROTOBUF)

    async def metrics(request: web.Request) -> web.Response:
        export = ExportMetricsServiceRequest.FromString(await _body(request))
        receiver.headers.append(dict(request.headers))
        for resource_metrics in export.resource_metrics:
            receiver.resources.append(attributes(list(resource_metrics.resource.attributes)))
            for scope_metrics in resource_metrics.scope_metrics:
                receiver.metrics.extend(scope_metrics.metrics)
        answer = ExportMetricsServiceResponse().SerializeToString()
        return web.Response(body=answer, content_type=PROTOBUF)

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    app.router.add_post("/v1/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()
