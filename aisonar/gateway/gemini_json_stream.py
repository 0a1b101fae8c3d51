"""`:streamGenerateContent` without `alt=sse`: Gemini's other stream, one JSON array whose
items are the responses, written as they arrive (`[{...}\\n,{...}\\n]`).

The gateway streams as server-sent events internally (pass-through and translated alike:
it always asks the upstream for SSE); this reframes the events on their way to the
client, one at a time, so nothing is buffered beyond one event. An error after the stream
began becomes the array's last item, as Gemini reports it."""

from __future__ import annotations

from aisonar.gateway import pipeline
from aisonar.gateway.generation import Generation
from aisonar.gateway.http import JSON_CONTENT_TYPE, Exchange, Message, Send
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.sse import SseSplitter, event_data

_EVENT_STREAM = b"text/event-stream"


class JsonArrayFraming:
    """An ASGI `send` that turns a response started as server-sent events into a JSON
    array; any other response (an error answered before the stream) goes out as it is."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._splitter = SseSplitter()
        self._reframing = False
        self._items = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message["headers"]
            self._reframing = (b"content-type", _EVENT_STREAM) in (
                (name, value.split(b";")[0]) for name, value in headers
            )
            if self._reframing:
                message = {**message, "headers": [_json_type(header) for header in headers]}
        elif self._reframing and message["type"] == "http.response.body":
            message = {**message, "body": self._reframe(message)}
        await self._send(message)

    def _reframe(self, message: Message) -> bytes:
        out = [self._item(event) for event in self._splitter.feed(message.get("body", b""))]
        if not message.get("more_body", False):
            remainder = self._splitter.remainder()
            if remainder.strip():
                out.append(self._item(remainder))
            out.append(b"\n]" if self._items else b"[]")
        return b"".join(out)

    def _item(self, event: bytes) -> bytes:
        data = event_data(event)
        if not data:
            return b""
        self._items += 1
        return (b"[" if self._items == 1 else b"\n,") + data


def _json_type(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    name, _ = header
    return (name, JSON_CONTENT_TYPE) if name == b"content-type" else header


async def stream_json_array(
    services: GatewayServices,
    exchange: Exchange,
    *,
    generation: Generation,
) -> None:
    exchange.send = JsonArrayFraming(exchange.send)
    await pipeline.serve(generation, services, exchange)
