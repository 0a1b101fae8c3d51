"""Operators test a channel and read its breaker state through the API, as `aisonar
channel test` does at the command line."""

from __future__ import annotations

import asyncio
import secrets

from aisonar.testing.gateway_server import RunningGateway, free_port
from tests.api.people import Api, make_operator, make_org
from tests.support import Backend


async def test_an_operator_tests_channels_and_sees_how_each_answered(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    good = await operator.post("/api/channels/fake/test", {"model": "smart"})
    assert good.status == 200
    assert good.body["ok"] and good.body["status"] == 200 and good.body["error"] is None
    assert (good.body["model"], good.body["upstream_model"]) == ("smart", "gpt-4o")
    assert good.body["output_tokens"] == 1 and good.body["input_tokens"] > 0

    wrong_key = (await operator.post("/api/channels/wrong-key/test", {})).body
    assert not wrong_key["ok"] and wrong_key["status"] == 401
    assert "sk-wrong" not in str(wrong_key)
    unreachable = (await operator.post("/api/channels/unreachable/test", {})).body
    assert unreachable["status"] is None and "could not be reached" in unreachable["error"]

    unknown = await operator.post("/api/channels/fake/test", {"model": "nowhere"})
    assert unknown.status == 400 and unknown.body["error"]["param"] == "model"
    assert (await operator.post("/api/channels/none-such/test", {})).status == 404


async def test_health_shows_each_channel_as_this_servers_breaker_sees_it(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    name = f"cooling-{secrets.token_hex(3)}"
    created = await operator.post(
        "/api/channels",
        {
            "name": name,
            "provider": "openai",
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "api_key": "sk-cooling",
            "models": f"{name}-model",
        },
    )
    running = gateway.app.runtime.services
    while created.body["id"] not in running.channels.channels:  # noqa: ASYNC110 - another task swaps it in
        await asyncio.sleep(0.02)
    running.channels.health.record_failure(created.body["id"], "test", retry_after_s=60)

    health = {c["name"]: c for c in (await operator.get("/api/channels/health")).body}
    assert health["fake"]["state"] == "closed" and health["fake"]["cooldown_remaining_s"] == 0
    cooling = health[name]
    assert cooling["state"] == "open" and 55 < cooling["cooldown_remaining_s"] <= 60

    await operator.call("PATCH", f"/api/channels/{name}", {"enabled": False})
    health = {c["name"]: c for c in (await operator.get("/api/channels/health")).body}
    assert health[name]["state"] == "disabled" and not health[name]["enabled"]


async def test_only_operators_may(gateway: RunningGateway, backend: Backend) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    assert (await admin.get("/api/channels/health")).status == 403
    assert (await admin.post("/api/channels/fake/test", {})).status == 403
