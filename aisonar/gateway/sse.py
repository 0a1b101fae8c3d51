"""Server-sent events framing: split a byte stream into whole events as they arrive."""

from __future__ import annotations

import re

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_DATA_PREFIX = b"data:"


class SseSplitter:
    """Feed raw bytes; get back every complete event (terminator included)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buffer + chunk if self._buffer else chunk
        events: list[bytes] = []
        start = 0
        for match in _EVENT_END.finditer(data):
            events.append(data[start : match.end()])
            start = match.end()
        self._buffer = data[start:]
        return events

    def remainder(self) -> bytes:
        return self._buffer


def event_data(event: bytes) -> bytes:
    """The joined `data:` lines of one event (empty when it has none)."""
    lines = [
        line[len(_DATA_PREFIX) :].removeprefix(b" ")
        for line in event.splitlines()
        if line.startswith(_DATA_PREFIX)
    ]
    return b"\n".join(lines)
