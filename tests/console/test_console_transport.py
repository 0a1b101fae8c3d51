"""Strict-Transport-Security goes with the console's pages over HTTPS only: here through a
trusted proxy that says so (tests/cli/test_serve_tls.py: served with TLS itself)."""

from __future__ import annotations

import aiohttp

from aisonar.console.security import STRICT_TRANSPORT_SECURITY
from aisonar.testing.gateway_server import RunningGateway


async def test_hsts_only_over_https(gateway: RunningGateway) -> None:
    async with aiohttp.ClientSession() as session:
        page = gateway.url + "/console/sign-in"
        async with session.get(page) as plain:
            assert plain.status == 200
            assert "Strict-Transport-Security" not in plain.headers
        # 127.0.0.1 is the default trusted proxy (AISONAR_TRUSTED_PROXIES).
        async with session.get(page, headers={"X-Forwarded-Proto": "https"}) as proxied:
            assert proxied.status == 200
            assert proxied.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY
