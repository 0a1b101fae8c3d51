"""POSTs signed notices to webhook endpoints. Endpoints are URLs that organization admins
type in, so by default no request may reach a private, loopback or link-local address
(the server's own Redis, a cloud metadata service), nor one that leads to such an
address (`addresses.py`): every address a name resolves to is checked at connection
time, which also defeats DNS rebinding."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from aisonar.clock import utcnow
from aisonar.notify.addresses import is_public
from aisonar.notify.outcome import Outcome
from aisonar.notify.signing import signature_headers

_USER_AGENT = "AI-Sonar-Webhooks/1"
_MAX_RESPONSE_KEPT = 200


class ForbiddenAddress(OSError):
    """The endpoint resolves to an address webhooks may not reach."""


class PublicOnlyResolver(AbstractResolver):
    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        resolved = await self._resolver.resolve(host, port, family)
        for result in resolved:
            if not is_public(result["host"]):
                raise ForbiddenAddress(f"{host} resolves to a non-public address")
        return resolved

    async def close(self) -> None:
        await self._resolver.close()


class WebhookClient:
    def __init__(self, *, timeout_s: float, allow_private_networks: bool) -> None:
        self._allow_private = allow_private_networks
        resolver = None if allow_private_networks else PublicOnlyResolver()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=resolver, limit=100),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            headers={"user-agent": _USER_AGENT},
        )

    def _refused_literal(self, url: str) -> bool:
        # A literal IP skips the resolver, so it is checked here.
        host = urlparse(url).hostname or ""
        try:
            return not self._allow_private and not is_public(host)
        except ValueError:
            return False

    async def post(self, url: str, secret: str, message_id: str, body: bytes) -> Outcome:
        if self._refused_literal(url):
            return Outcome.failed("the endpoint is a non-public address", permanent=True)
        headers = {
            "content-type": "application/json",
            **signature_headers(secret, message_id, int(time.time()), body),
        }
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return Outcome(delivered=True, status_code=response.status)
                answer = (await response.content.read(_MAX_RESPONSE_KEPT)).decode(errors="replace")
                return Outcome.failed(f"HTTP {response.status}: {answer}", response.status)
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, ForbiddenAddress):
                return Outcome.failed(str(error.os_error), permanent=True)
            return Outcome.failed(f"{type(error).__name__}: {error}")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return Outcome.failed(f"{type(error).__name__}: {error}")

    async def close(self) -> None:
        await self._session.close()


async def send_ping(
    url: str, secret: str, *, timeout_s: float, allow_private_networks: bool
) -> Outcome:
    """A signed `ping` to an endpoint, to see that it is reachable and verifies."""
    client = WebhookClient(timeout_s=timeout_s, allow_private_networks=allow_private_networks)
    body = orjson.dumps({"type": "ping", "timestamp": utcnow().isoformat(), "data": {}})
    try:
        return await client.post(url, secret, f"ping_{time.time_ns()}", body)
    finally:
        await client.close()
