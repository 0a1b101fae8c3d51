"""Forward: hand the upstream's answer to the client as it arrives, reading usage on
the way. Streams are framed into whole SSE events but never buffered beyond one.

Same format in and out is a pass-through of the upstream's bytes; a translated answer is
parsed event by event, turned into hub chunks and written in the client's format."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aisonar.gateway.answer_figures import answer_headers, cost_comment, overhead_header
from aisonar.gateway.errors import UnreadableUpstream
from aisonar.gateway.http import JSON_CONTENT_TYPE, SSE_HEADERS, Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.sse import SseSplitter, event_data
from aisonar.gateway.upstream import UpstreamAnswer
from aisonar.gateway.wire.adapter import HubReader, RawStreamReader, StreamUsage
from aisonar.gateway.wire.dialect import HubWriter
from aisonar.token_usage import TokenUsage

# What reading a malformed upstream document raises.
UNREADABLE = (ValueError, KeyError, TypeError, AttributeError)
# Stream data kept (by reference) so tokens can be estimated if no usage arrives.
_MAX_KEPT_FOR_ESTIMATE = 4 * 1024 * 1024

JsonObject = dict[str, Any]


async def relay_json(
    exchange: Exchange,
    answer: UpstreamAnswer,
    meter: RequestMeter,
    usage_of: Callable[[bytes], TokenUsage | None],
    estimate: Callable[[bytes], TokenUsage],
) -> None:
    body = answer.first
    meter.first_byte()
    usage = usage_of(body)
    meter.usage = usage if usage is not None else estimate(body)
    await _respond(exchange, answer, meter, body)


async def relay_translated_json(
    exchange: Exchange,
    answer: UpstreamAnswer,
    meter: RequestMeter,
    translate: Callable[[bytes], tuple[bytes, TokenUsage]],
) -> None:
    """`translate` gives the answer in the client's format and its usage."""
    meter.first_byte()
    try:
        body, meter.usage = translate(answer.first)
    except UNREADABLE as error:
        raise UnreadableUpstream() from error
    await _respond(exchange, answer, meter, body)


async def _respond(
    exchange: Exchange, answer: UpstreamAnswer, meter: RequestMeter, body: bytes
) -> None:
    """A whole answer, its usage known: its charge goes in its headers."""
    figures = answer_headers(meter.charged(), meter.overhead_ms())
    await exchange.respond(answer.status, body, JSON_CONTENT_TYPE, figures)


class _Kept:
    """Up to a bound, what was delivered, for estimating tokens when no usage arrives."""

    __slots__ = ("items", "size")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.size = 0

    def keep(self, item: Any, size: int) -> None:
        if self.size < _MAX_KEPT_FOR_ESTIMATE:
            self.items.append(item)
            self.size += size


async def relay_stream(
    exchange: Exchange,
    answer: UpstreamAnswer,
    meter: RequestMeter,
    tracker: StreamUsage,
    estimate: Callable[[list[bytes]], TokenUsage],
) -> None:
    """Pass the upstream's events through; `estimate` gets the delivered events."""
    kept = _Kept()
    splitter = SseSplitter()
    marker = tracker.marker
    await _start_stream(exchange, meter)
    try:
        async for chunk in answer.chunks():
            meter.first_byte()
            if _whole_events_without(marker, chunk, splitter):
                # The common case: pass the bytes on as they came.
                kept.keep(chunk, len(chunk))
                await exchange.write(chunk)
                continue
            forward = []
            for event in splitter.feed(chunk):
                if marker.search(event) is None or tracker.observe(event_data(event)):
                    kept.keep(event, len(event))
                    forward.append(event)
            if forward:
                await exchange.write(b"".join(forward) if len(forward) > 1 else forward[0])
        if splitter.remainder().strip():
            await exchange.write(splitter.remainder())
    finally:
        # Whatever ended the stream, charge what the upstream reported or else what was delivered.
        meter.usage = (
            tracker.usage
            if tracker.usage is not None
            else estimate(SseSplitter().feed(b"".join(kept.items) + b"\n\n"))
        )
    await _end_stream(exchange, meter)


async def relay_translated_stream(
    exchange: Exchange,
    answer: UpstreamAnswer,
    meter: RequestMeter,
    reader: HubReader,
    writer: HubWriter,
    estimate: Callable[[list[JsonObject]], TokenUsage],
) -> None:
    """Read the upstream's events into hub chunks and write them in the client's format;
    `estimate` gets the delivered hub chunks."""
    kept = _Kept()
    splitter: _WholeChunks | SseSplitter = (
        _WholeChunks() if isinstance(reader, RawStreamReader) else SseSplitter()
    )
    await _start_stream(exchange, meter)
    try:
        async for chunk in answer.chunks():
            meter.first_byte()
            out = []
            for event in splitter.feed(chunk):
                for hub in _read(reader, event):
                    kept.keep(hub, len(event))
                    out.append(writer.feed(hub))
            if out:
                await exchange.write(b"".join(out))
        events = splitter.remainder()
        hubs = [*(_read(reader, events) if events.strip() else []), *reader.finish()]
        kept.items.extend(hubs)
        await exchange.write(b"".join(writer.feed(hub) for hub in hubs) + writer.finish())
    finally:
        meter.usage = reader.usage if reader.usage is not None else estimate(kept.items)
    await _end_stream(exchange, meter)


async def _start_stream(exchange: Exchange, meter: RequestMeter) -> None:
    await exchange.start(200, [*SSE_HEADERS, overhead_header(meter.overhead_ms())])


async def _end_stream(exchange: Exchange, meter: RequestMeter) -> None:
    """A stream's charge, known only now, ends it in a comment where its client's SDKs
    skip comments."""
    await exchange.end(cost_comment(meter.charged()) if exchange.sse_comments else b"")


class _WholeChunks:
    """The framing of a reader that frames its stream itself: each chunk as it came."""

    __slots__ = ()

    def feed(self, chunk: bytes) -> list[bytes]:
        return [chunk]

    def remainder(self) -> bytes:
        return b""


def _read(reader: HubReader, event: bytes) -> list[JsonObject]:
    try:
        return reader.feed(event)
    except UNREADABLE as error:
        raise UnreadableUpstream() from error


def _whole_events_without(marker: re.Pattern[bytes], chunk: bytes, splitter: SseSplitter) -> bool:
    return (
        not splitter.remainder()
        and chunk.endswith(b"\n\n")
        and b"\r" not in chunk
        and marker.search(chunk) is None
    )
