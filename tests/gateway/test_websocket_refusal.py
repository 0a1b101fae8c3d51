"""A WebSocket upgrade (the Codex CLI's first try) is refused at once with an HTTP answer
in OpenAI's format, never a 500 or a handshake left hanging."""

from __future__ import annotations

import aiohttp
import pytest

from aisonar.testing.gateway_server import RunningGateway
from tests.support import Tenant


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/chat/completions", "/nowhere"])
async def test_a_websocket_upgrade_is_refused_with_426(
    gateway: RunningGateway, tenant: Tenant, path: str
) -> None:
    headers = {"Authorization": f"Bearer {tenant.secret}"}
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(gateway.url + path, headers=headers)
    assert refused.value.status == 426
    # The same connection pool still serves HTTP afterwards.
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(gateway.url + "/v1/models") as response,
    ):
        assert response.status == 200
