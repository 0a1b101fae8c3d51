"""`POST /v1/traces`: an OTLP/HTTP trace receiver (protobuf or JSON, optionally gzip),
authenticated with an API key like ingestion. GenAI model-call spans become usage events
(source `otel`); other spans are accepted and dropped. Answers follow OTLP: an
`ExportTraceServiceResponse` (with `partial_success` for spans that could not be read),
and a `google.rpc.Status` on errors, in the request's own encoding."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from aisonar.accounts.models import KeyIdentity
from aisonar.errors import AISonarError, InvalidInput
from aisonar.gateway.http import Exchange
from aisonar.gateway.pipeline import authenticate_exchange
from aisonar.gateway.services import GatewayServices
from aisonar.ingest.body import read_request_body
from aisonar.ingest.genai_spans import NotUsage, UnreadableSpan, reported_usage
from aisonar.ingest.queue import queue_events
from aisonar.ingest.reported import check_started_at, usage_event
from aisonar.usage.models import UsageEvent

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SOURCE = "otel"
# google.rpc.Code of each HTTP status an error may have.
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 3, 415: 3, 429: 8, 503: 14}
_RPC_UNKNOWN = 2
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class UnsupportedMediaType(AISonarError):
    status = 415
    kind = "invalid_request_error"
    code = "unsupported_media_type"


def _media_type(exchange: Exchange) -> str:
    declared = (exchange.header(b"content-type") or "").split(";")[0].strip().lower()
    if declared not in (PROTOBUF, JSON):
        raise UnsupportedMediaType(
            f"Send OTLP as {PROTOBUF} or {JSON}, not {declared or 'no Content-Type'}."
        )
    return declared


def _binary_ids(document: Any) -> None:
    """OTLP/JSON writes trace and span ids in hex, where protobuf's JSON mapping
    expects base64: convert them in place."""
    for resource_spans in document.get("resourceSpans") or ():
        for scope_spans in resource_spans.get("scopeSpans") or ():
            for span in scope_spans.get("spans") or ():
                for field in _ID_FIELDS:
                    if span.get(field):
                        span[field] = base64.b64encode(bytes.fromhex(span[field])).decode()


def _parse(body: bytes, media_type: str) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        if media_type == PROTOBUF:
            request.ParseFromString(body)
        else:
            document = orjson.loads(body)
            _binary_ids(document)
            json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, orjson.JSONDecodeError) as error:
        raise InvalidInput(f"Unreadable OTLP trace export: {error}") from None
    except (AttributeError, TypeError, ValueError) as error:
        raise InvalidInput(f"Unreadable OTLP trace export: {error!r}") from None
    return request


def _service_name(resource_spans: Any) -> str | None:
    for pair in resource_spans.resource.attributes:
        if pair.key == "service.name" and pair.value.WhichOneof("value") == "string_value":
            return str(pair.value.string_value)
    return None


def usage_of_spans(
    request: ExportTraceServiceRequest, identity: KeyIdentity, services: GatewayServices
) -> tuple[list[UsageEvent], list[str]]:
    """The usage events of the export's model-call spans, and why others were refused."""
    events: list[UsageEvent] = []
    refusals: list[str] = []
    prices = services.billing.prices
    for resource_spans in request.resource_spans:
        service = _service_name(resource_spans)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                try:
                    report = reported_usage(span, service)
                except (NotUsage, UnreadableSpan) as refusal:
                    refusals.append(str(refusal))
                    continue
                if fault := check_started_at(report.started_at, f"span {report.external_id}"):
                    refusals.append(fault)
                    continue
                events.append(usage_event(identity, report, prices, SOURCE))
    return events, refusals


def _encoded(message: Message, media_type: str) -> bytes:
    if media_type == PROTOBUF:
        return bytes(message.SerializeToString())
    return orjson.dumps(json_format.MessageToDict(message))


async def receive_traces(services: GatewayServices, exchange: Exchange) -> None:
    media_type = PROTOBUF
    try:
        media_type = _media_type(exchange)
        identity = await authenticate_exchange(services, exchange, reporting=True)
        body = await read_request_body(exchange, services.max_body_bytes)
        events, refusals = usage_of_spans(_parse(body, media_type), identity, services)
        queue_events(services, events)
    except AISonarError as error:
        status = Status(code=_RPC_CODES.get(error.status, _RPC_UNKNOWN), message=error.message)
        headers = [(b"retry-after", error.retry_after.encode())] if error.retry_after else []
        await exchange.respond(
            error.status, _encoded(status, media_type), media_type.encode(), headers
        )
        return
    answer = ExportTraceServiceResponse()
    if refusals:
        answer.partial_success.rejected_spans = len(refusals)
        answer.partial_success.error_message = "; ".join(refusals[:10])
    await exchange.respond(200, _encoded(answer, media_type), media_type.encode())
