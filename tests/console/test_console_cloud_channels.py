"""The operators' channel forms take a cloud provider's options (`NAME=VALUE`, separated
by commas), checked as `/api/channels` checks them, and show them on the channel's page."""

from __future__ import annotations

import secrets

from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import TEST_SECRET_KEY
from tests.console.forms import fetch, http_session, post
from tests.console.people import console_person, csrf_token_in, sign_in_over_http
from tests.support import Backend

CHANNELS = "/console/operator/channels"


async def test_an_operator_adds_an_azure_channel_with_its_api_version(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    name = f"console-azure-{secrets.token_hex(3)}"
    fields = {
        "name": name,
        "provider": "azure",
        "base_url": "https://example-resource.openai.azure.com",
        "options": "api_version=2024-10-21",
        "api_key": "azure-console-key",
        # A name of its own: while it is on, no other test's model is routed to it.
        "models": f"{name}=my-deployment",
    }
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        status, html = await fetch(http, gateway.url + CHANNELS)
        token = csrf_token_in(html)
        for wrong, words in (
            ({"options": ""}, "needs the option(s) api_version"),
            ({"options": "api_version"}, "NAME=VALUE"),
            ({"options": "api_version=v1, region=x"}, "no option"),
        ):
            status, _, page = await post(http, gateway.url + CHANNELS, token, fields | wrong)
            assert status == 400 and words in page, page
            assert f'value="{wrong["options"]}"' in page
        status, location, _ = await post(http, gateway.url + CHANNELS, token, fields)
        assert (status, location) == (303, CHANNELS)
        async with backend.engine.connect() as conn:
            created = await channels.get_channel(conn, SecretBox(TEST_SECRET_KEY), name)
        assert created.channel.options == {"api_version": "2024-10-21"}
        edit = f"{CHANNELS}/{created.channel.id}"
        status, html = await fetch(http, gateway.url + edit)
        assert status == 200 and 'value="api_version=2024-10-21"' in html
        change = {
            "base_url": created.channel.base_url,
            "options": "api_version=2025-04-01-preview",
            "models": f"{name}=my-deployment",
            "priority": "0",
            "weight": "1",
            "timeout_connect_s": "",
            "timeout_first_byte_s": "",
            "timeout_total_s": "",
            "api_key": "",
        }
        status, location, _ = await post(http, gateway.url + edit, token, change)
        assert (status, location) == (303, CHANNELS)
        await post(http, gateway.url + edit + "/enabled", token, {"enabled": "no"})
    async with backend.engine.connect() as conn:
        changed = await channels.get_channel(conn, SecretBox(TEST_SECRET_KEY), name)
    assert changed.channel.options == {"api_version": "2025-04-01-preview"}
    assert not changed.channel.enabled
