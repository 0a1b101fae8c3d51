"""The AWS event-stream framing (`application/vnd.amazon.eventstream`), written the way AWS
writes it, for the fake Bedrock's ConverseStream: botocore decodes it but has no encoder.

A frame is a prelude (total length, headers length, both big-endian uint32, and the
prelude's CRC32), the headers (name length uint8, name, value type 7 = string, value
length uint16, value), the payload, and the CRC32 of everything before it."""

from __future__ import annotations

import binascii
import struct

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def _headers(headers: dict[str, str]) -> bytes:
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack(">B", len(raw_name)) + raw_name
        encoded += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return encoded


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    raw_headers = _headers(headers)
    total = _PRELUDE.size + _CRC.size + len(raw_headers) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(raw_headers))
    prelude += _CRC.pack(binascii.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + _CRC.pack(binascii.crc32(body))


def event(event_type: str, payload: bytes) -> bytes:
    return frame(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        payload,
    )


def exception(exception_type: str, payload: bytes) -> bytes:
    return frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        payload,
    )
