"""Who may read `/metrics`: without AISONAR_METRICS_TOKEN only clients on the loopback
address (as the gateway knows them: through a trusted proxy, the address its
X-Forwarded-For names), with it only those who send it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.support import Backend

TOKEN = "metrics-token-of-this-test-0123456789"


@asynccontextmanager
async def own_gateway(backend: Backend, **settings: Any) -> AsyncIterator[RunningGateway]:
    async with running_gateway(backend.settings.model_copy(update=settings)) as gateway:
        yield gateway


async def scrape(
    gateway: RunningGateway, **headers: str
) -> tuple[int, str, aiohttp.ClientResponse]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(gateway.url + "/metrics", headers=headers) as response,
    ):
        return response.status, await response.text(), response


async def test_without_a_token_only_loopback_clients_read_the_metrics(backend: Backend) -> None:
    # The test's requests come from 127.0.0.1, which AISONAR_TRUSTED_PROXIES trusts by
    # default: X-Forwarded-For plays the client behind a reverse proxy on the same host.
    async with own_gateway(backend) as gateway:
        status, text, _ = await scrape(gateway)
        assert status == 200 and "aisonar_requests_in_flight" in text
        for local in ("127.0.0.2", "::1", "::ffff:127.0.0.1"):
            assert (await scrape(gateway, **{"X-Forwarded-For": local}))[0] == 200, local
        # A forged 127.0.0.1 ahead of the address the proxy appended changes nothing.
        for remote in (
            "203.0.113.9",
            "127.0.0.1, 203.0.113.9",
            "::ffff:203.0.113.9",
            "2001:db8::1",
        ):
            status, text, _ = await scrape(gateway, **{"X-Forwarded-For": remote})
            assert status == 403, remote
            assert '"code":"metrics_loopback_only"' in text.replace(" ", "")
            assert "aisonar_" not in text


async def test_an_untrusted_peers_forwarded_address_is_not_believed(backend: Backend) -> None:
    async with own_gateway(backend, trusted_proxies="192.0.2.1") as gateway:
        # The connection is the client: loopback, whatever the header claims.
        assert (await scrape(gateway, **{"X-Forwarded-For": "203.0.113.9"}))[0] == 200


async def test_with_a_token_only_its_bearer_reads_the_metrics(backend: Backend) -> None:
    async with own_gateway(backend, metrics_token=TOKEN) as gateway:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            status, text, response = await scrape(gateway, **headers)
            assert status == 401, headers
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
            assert '"code":"invalid_metrics_token"' in text.replace(" ", "")
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        status, text, _ = await scrape(gateway, **bearer)
        assert status == 200 and "aisonar_requests_in_flight" in text
        # From anywhere, once the token is right.
        remote = {**bearer, "X-Forwarded-For": "203.0.113.9"}
        assert (await scrape(gateway, **remote))[0] == 200
