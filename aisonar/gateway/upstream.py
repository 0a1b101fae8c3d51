"""The one pooled upstream HTTP client, and the translation of its failures into
gateway errors. The upstream's own key never appears in an error."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import msgspec

from aisonar.gateway.errors import UpstreamRejected, UpstreamTimeout, UpstreamUnavailable

_SECRET_LIKE = re.compile(r"(sk|key|org|proj)-[A-Za-z0-9_\-]{6,}")
_MAX_ERROR_BODY = 64 * 1024
# Gemini refuses a bad key with 400 INVALID_ARGUMENT and this reason in its details.
_GOOGLE_BAD_KEY = b"API_KEY_INVALID"


def new_upstream_session(
    *, connect_timeout_s: float, total_timeout_s: float, max_connections: int
) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections, ttl_dns_cache=300),
        timeout=aiohttp.ClientTimeout(total=total_timeout_s, sock_connect=connect_timeout_s),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
    )


class _ErrorDetail(msgspec.Struct):
    message: str | None = None
    type: str | None = None


class _ErrorBody(msgspec.Struct):
    error: _ErrorDetail | str | None = None


def _sanitize(message: str, secret: str) -> str:
    if secret:
        message = message.replace(secret, "[redacted]")
    return _SECRET_LIKE.sub("[redacted]", message)[:500]


def upstream_error(
    status: int, body: bytes, headers: dict[str, str], secret: str
) -> UpstreamRejected:
    """Pass the upstream's complaint on, minus anything that identifies its account.
    A refusal of our credentials (401/403, Gemini's API_KEY_INVALID) is no fault of the
    client's key, so it becomes 502."""
    body = body[:_MAX_ERROR_BODY]
    try:
        parsed = msgspec.json.decode(body, type=_ErrorBody).error
    except (msgspec.ValidationError, msgspec.DecodeError):
        parsed = None
    message = parsed.message if isinstance(parsed, _ErrorDetail) else parsed
    kind = parsed.type if isinstance(parsed, _ErrorDetail) else None
    if status in (401, 403) or _GOOGLE_BAD_KEY in body:
        return UpstreamRejected(
            502, "The upstream provider rejected the gateway's credentials.", "upstream_error", None
        )
    text = _sanitize(message or f"The upstream provider answered HTTP {status}.", secret)
    return UpstreamRejected(status, text, kind, headers.get("Retry-After"))


@asynccontextmanager
async def upstream_post(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes
) -> AsyncIterator[aiohttp.ClientResponse]:
    try:
        async with session.post(url, data=body, headers=headers) as response:
            yield response
    except TimeoutError as error:
        raise UpstreamTimeout("The upstream provider timed out.") from error
    except aiohttp.ClientPayloadError as error:
        raise UpstreamUnavailable("The upstream provider broke off its response.") from error
    except aiohttp.ClientConnectionError as error:
        raise UpstreamUnavailable("The upstream provider could not be reached.") from error
