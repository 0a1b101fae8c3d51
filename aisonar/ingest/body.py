"""Reading a reported batch, which exporters may send gzip-compressed (OTLP's
`Content-Encoding: gzip`): the inflated size is bounded like the sent one."""

from __future__ import annotations

import zlib

from aisonar.gateway.errors import InvalidRequest, PayloadTooLarge
from aisonar.gateway.http import Exchange

_GZIP_WINDOW = 16 + zlib.MAX_WBITS


def inflated(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(_GZIP_WINDOW)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise InvalidRequest(f"The body is not valid gzip: {error}") from None
    if len(data) > limit:
        raise PayloadTooLarge(f"The inflated request body exceeds the limit of {limit} bytes.")
    if not inflater.eof:
        raise InvalidRequest("The gzip body is truncated.")
    return data


async def read_request_body(exchange: Exchange, limit: int) -> bytes:
    body = await exchange.read_body(limit)
    encoding = (exchange.header(b"content-encoding") or "identity").strip().lower()
    if encoding == "gzip":
        return inflated(body, limit)
    if encoding != "identity":
        raise InvalidRequest(f"Unsupported Content-Encoding {encoding!r}: send gzip or none.")
    return body
