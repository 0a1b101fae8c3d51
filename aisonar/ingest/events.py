"""`POST /api/ingest/events`: batches of usage events from applications that call
providers themselves. The batch is checked whole (one bad event refuses it all, naming
each fault), then queued to the usage writer, which skips events already stored: a
retried batch counts once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
import orjson

from aisonar.clock import utcnow
from aisonar.errors import InvalidInput
from aisonar.gateway.http import Exchange
from aisonar.gateway.pipeline import authenticate_exchange
from aisonar.gateway.services import GatewayServices
from aisonar.ingest.body import read_request_body
from aisonar.ingest.queue import queue_events
from aisonar.ingest.reported import ReportedUsage, check_started_at, usage_event

MAX_EVENTS = 1000
MAX_PROPERTIES = 50
MAX_PROPERTY_TEXT = 500
_MAX_TOKENS = 100_000_000
_MAX_MS = 24 * 3600 * 1000

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Tokens = Annotated[int, msgspec.Meta(ge=0, le=_MAX_TOKENS)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=_MAX_MS)]
PropertyName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
PropertyValue = Annotated[str, msgspec.Meta(max_length=MAX_PROPERTY_TEXT)] | int | float | bool


class _Event(msgspec.Struct, forbid_unknown_fields=True):
    id: Text
    provider: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    model: Text
    timestamp: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    operation: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "chat"
    response_model: Text | None = None
    input_tokens: Tokens = 0
    cached_input_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    output_tokens: Tokens = 0
    reasoning_tokens: Tokens = 0
    latency_ms: Millis = 0
    ttft_ms: Millis | None = None
    status: Annotated[int, msgspec.Meta(ge=100, le=599)] = 200
    error_type: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    stream: bool = False
    user: Text | None = None
    session_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    properties: (
        Annotated[dict[PropertyName, PropertyValue], msgspec.Meta(max_length=MAX_PROPERTIES)] | None
    ) = None


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[_Event], msgspec.Meta(min_length=1, max_length=MAX_EVENTS)]


_decoder = msgspec.json.Decoder(_Batch)


def _report(event: _Event, received_at: datetime) -> ReportedUsage:
    return ReportedUsage(
        external_id=event.id,
        provider=event.provider,
        model=event.model,
        started_at=(event.timestamp or received_at).astimezone(UTC),
        operation=event.operation,
        response_model=event.response_model,
        input_tokens=event.input_tokens,
        cached_input_tokens=event.cached_input_tokens,
        cache_write_tokens=event.cache_write_tokens,
        output_tokens=event.output_tokens,
        reasoning_tokens=event.reasoning_tokens,
        latency_ms=event.latency_ms,
        ttft_ms=event.ttft_ms,
        status_code=event.status,
        error_type=event.error_type,
        stream=event.stream,
        end_user=event.user,
        properties=event.properties,
        session_id=event.session_id,
    )


def _faults(events: list[_Event]) -> list[str]:
    faults = []
    for index, event in enumerate(events):
        where = f"events[{index}]"
        if event.cached_input_tokens + event.cache_write_tokens > event.input_tokens:
            faults.append(f"{where}: cached and cache-write tokens are part of input_tokens")
        if event.reasoning_tokens > event.output_tokens:
            faults.append(f"{where}: reasoning tokens are part of output_tokens")
        if event.ttft_ms is not None and event.ttft_ms > event.latency_ms:
            faults.append(f"{where}: ttft_ms is longer than latency_ms")
        if event.timestamp is not None and (fault := check_started_at(event.timestamp, where)):
            faults.append(fault)
    return faults


def parse_batch(body: bytes) -> list[_Event]:
    try:
        events = _decoder.decode(body).events
    except msgspec.ValidationError as error:
        raise InvalidInput(f"Invalid event batch: {error}", param="events") from None
    # msgspec raises UnicodeDecodeError for a string that is not UTF-8.
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"The body is not JSON: {error}", param="events") from None
    faults = _faults(events)
    if faults:
        raise InvalidInput("Invalid event batch: " + "; ".join(faults[:20]), param="events")
    return events


async def ingest_events(services: GatewayServices, exchange: Exchange) -> None:
    received_at = utcnow()
    identity = await authenticate_exchange(services, exchange, reporting=True)
    events = parse_batch(await read_request_body(exchange, services.max_body_bytes))
    reported = [
        usage_event(identity, _report(event, received_at), services.billing.prices, "ingest")
        for event in events
    ]
    queue_events(services, reported)
    await exchange.respond(202, orjson.dumps({"accepted": len(reported)}))
