"""A lean ASGI exchange for the hot routes: read the body within a limit, send a response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aisonar.errors import AISonarError
from aisonar.gateway.body.json_body import check_json_body
from aisonar.gateway.errors import InvalidRequest, PayloadTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_CONTENT_TYPE = b"application/json"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class Exchange:
    __slots__ = (
        "extra_headers",
        "headers",
        "json_body",
        "receive",
        "request_id",
        "response_ended",
        "response_started",
        "scope",
        "send",
        "sse_comments",
        "status",
        "stream_error",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.request_id = request_id
        self.headers: dict[bytes, bytes] = dict(scope["headers"])
        self.response_started = False
        self.response_ended = False
        self.status = 0
        # Headers every response to this request carries (the rate limit state).
        self.extra_headers: list[tuple[bytes, bytes]] = []
        # Whether the body is JSON, to be refused at once if its parsers would fail on it.
        self.json_body = False
        # The events that end this request's stream when it fails after it started, where
        # the stream's own state decides them (a Responses stream's sequence numbers); by
        # default the format's error event.
        self.stream_error: Callable[[AISonarError], bytes] | None = None
        # Whether the client's SDKs skip SSE comments, so that its stream may end with one.
        self.sse_comments = False

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return value.decode("latin-1") if value is not None else None

    @property
    def client_ip(self) -> str | None:
        client = self.scope.get("client")
        return client[0] if client else None

    async def read_body(self, limit: int) -> bytes:
        declared = self.headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise InvalidRequest("Content-Length is not a number")
            if int(declared) > limit:
                raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if self.json_body:
            check_json_body(body)
        return body

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.response_started = True
        self.status = status
        request_id = self.request_id.encode()
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *headers,
                    *self.extra_headers,
                    (b"x-request-id", request_id),
                    (b"x-aisonar-request-id", request_id),
                ],
            }
        )

    async def write(self, body: bytes) -> None:
        await self.send({"type": "http.response.body", "body": body, "more_body": True})

    async def end(self, body: bytes = b"") -> None:
        self.response_ended = True
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    async def respond(
        self,
        status: int,
        body: bytes,
        content_type: bytes = JSON_CONTENT_TYPE,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            *(extra_headers or []),
        ]
        await self.start(status, headers)
        await self.end(body)
