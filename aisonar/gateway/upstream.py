"""The one pooled upstream HTTP client, and the translation of its failures into
gateway errors. The upstream's own key never appears in an error."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec

from aisonar.gateway.errors import (
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamUnreachable,
)

if TYPE_CHECKING:
    from aisonar.gateway.routing import Route

_SECRET_LIKE = re.compile(
    r"(sk|key|org|proj|user)-[A-Za-z0-9_\-]{6,}|AIza[A-Za-z0-9_\-]{20,}|Bearer\s+\S+"
    # AWS: access key ids, and ARNs (they name the account).
    r"|\b(AKIA|ASIA)[A-Z0-9]{16}\b|arn:aws[\w-]*:\S*"
)
_MAX_ERROR_BODY = 64 * 1024
# An adapter's `refused_answer`: (status, error body, stream) -> the answer standing for
# the error, or None to raise it.
Refusal = Callable[[int, bytes, bool], bytes | None]
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
    # OpenAI's; Gemini's `code` is the HTTP status, its `status` the code's name, and a
    # BadRequest among its `details` names the fields at fault.
    param: Any = None
    code: Any = None
    status: Any = None
    details: Any = None

    def error_code(self) -> str | None:
        for value in (self.code, self.status):
            if isinstance(value, str) and value:
                return value
        return None

    def error_param(self) -> str | None:
        if isinstance(self.param, str) and self.param:
            return self.param
        fields = [
            violation["field"]
            for detail in (self.details if isinstance(self.details, list) else [])
            if isinstance(detail, dict) and isinstance(detail.get("fieldViolations"), list)
            for violation in detail["fieldViolations"]
            if isinstance(violation, dict) and isinstance(violation.get("field"), str)
        ]
        return ", ".join(fields) or None


class _ErrorBody(msgspec.Struct):
    error: _ErrorDetail | str | None = None
    # AWS's services answer `{"message": ...}` (IAM's refusals `{"Message": ...}`), their
    # error's type in the `x-amzn-ErrorType` header.
    message: Any = None
    Message: Any = None

    def detail(self, headers: dict[str, str]) -> _ErrorDetail | str | None:
        if self.error is not None:
            return self.error
        text = self.message if isinstance(self.message, str) else self.Message
        if not isinstance(text, str):
            return None
        aws_type = headers.get("x-amzn-ErrorType") or headers.get("X-Amzn-ErrorType") or ""
        return _ErrorDetail(message=text, code=aws_type.partition(":")[0] or None)


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
        parsed = msgspec.json.decode(body, type=_ErrorBody).detail(headers)
    except (msgspec.ValidationError, msgspec.DecodeError):
        parsed = None
    message = parsed.message if isinstance(parsed, _ErrorDetail) else parsed
    kind = parsed.type if isinstance(parsed, _ErrorDetail) else None
    if status in (401, 403) or _GOOGLE_BAD_KEY in body:
        return UpstreamRejected(
            502,
            "The upstream provider rejected the gateway's credentials.",
            "upstream_error",
            None,
            upstream_status=status,
        )
    text = _sanitize(message or f"The upstream provider answered HTTP {status}.", secret)
    # The upstream's internal failure is, to the client, a bad gateway.
    client_status = 502 if status >= 500 and status not in (502, 503, 504) else status
    detail = parsed if isinstance(parsed, _ErrorDetail) else _ErrorDetail()
    param, code = detail.error_param(), detail.error_code()
    return UpstreamRejected(
        client_status,
        text,
        kind,
        headers.get("Retry-After"),
        upstream_status=status,
        param=None if param is None else _sanitize(param, secret),
        code=None if code is None else _sanitize(code, secret),
    )


@dataclass(slots=True)
class UpstreamAnswer:
    """An upstream response that began well: `first` is the first chunk of a stream, or
    the whole body of a JSON answer."""

    response: aiohttp.ClientResponse
    first: bytes
    # The answer stands for an error of the upstream's (a refusal): to the client, a success.
    stands_for_error: bool = False

    @property
    def status(self) -> int:
        return 200 if self.stands_for_error else self.response.status

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.first:
            yield self.first
        async for chunk in self.response.content.iter_any():
            yield chunk


async def _with_credentials(
    session: aiohttp.ClientSession, route: Route, url: str, headers: dict[str, str], body: bytes
) -> dict[str, str]:
    """The request's headers, with what the channel's signer adds for it."""
    if route.signer is None:
        return headers
    return {**headers, **await route.signer.authorize(session, "POST", url, body)}


async def _refused_or_raise(
    response: aiohttp.ClientResponse, route: Route, refusal: Refusal | None, stream: bool
) -> bytes:
    """An error answer `refusal` turns into the answer standing for it; else raised."""
    error = await response.read()
    refused = refusal(response.status, error, stream) if refusal is not None else None
    if refused is None:
        raise upstream_error(response.status, error, dict(response.headers), route.channel.api_key)
    return refused


@asynccontextmanager
async def open_upstream(
    session: aiohttp.ClientSession,
    route: Route,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    stream: bool,
    refusal: Refusal | None = None,
) -> AsyncIterator[UpstreamAnswer]:
    """Send the request and wait for the answer to begin: an error status, a broken
    connection or a timeout up to here is raised before the client has seen a byte, so
    the request can still go to another channel; an error that `refusal` turns into an
    answer is answered instead."""
    timeouts = route.timeouts
    try:
        async with AsyncExitStack() as stack:
            async with asyncio.timeout(timeouts.first_byte_s):
                sent = await _with_credentials(session, route, url, headers, body)
                response = await stack.enter_async_context(
                    session.post(url, data=body, headers=sent, timeout=timeouts.client)
                )
                if response.status == 401 and route.signer and route.signer.refused(sent):
                    # A token refused before its time (revoked, or the clocks disagree) was
                    # dropped: once more, with a new one.
                    await response.read()
                    sent = await _with_credentials(session, route, url, headers, body)
                    response = await stack.enter_async_context(
                        session.post(url, data=body, headers=sent, timeout=timeouts.client)
                    )
                refused = None
                if response.status >= 400:
                    refused = await _refused_or_raise(response, route, refusal, stream)
                first = await response.content.readany() if stream and not refused else b""
            if refused is not None:
                first = refused
            elif not stream:
                first = await response.read()
            yield UpstreamAnswer(response, first, refused is not None)
    except TimeoutError as error:
        raise UpstreamTimeout("The upstream provider timed out.") from error
    except aiohttp.ClientPayloadError as error:
        raise UpstreamUnavailable("The upstream provider broke off its response.") from error
    except aiohttp.ClientConnectorError as error:
        raise UpstreamUnreachable("The upstream provider could not be reached.") from error
    except aiohttp.ClientConnectionError as error:
        raise UpstreamUnavailable("The upstream provider could not be reached.") from error
