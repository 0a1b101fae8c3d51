"""A cloud provider's channel through the management API: its options (each one the
provider takes, and only those) and its credentials (a JSON document of the right shape,
never shown or audited)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from sqlalchemy import select

from aisonar.store.tables import audit_log
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_operator
from tests.support import Backend

ENTRA = {"tenant_id": "t-1", "client_id": "c-1", "client_secret": "entra-secret-value"}


def azure(**fields: Any) -> dict[str, Any]:
    name = f"azure-{secrets.token_hex(3)}"
    return {
        "name": name,
        "provider": "azure",
        "base_url": "https://example-resource.openai.azure.com",
        "api_key": "azure-key-value",
        # A model name of its own: while it is on, no other test's model is routed to it.
        "models": f"{name}=my-deployment",
        "options": {"api_version": "2024-10-21"},
        **fields,
    }


async def test_an_azure_channel_keeps_its_options_and_hides_its_credentials(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    created = await operator.post("/api/channels", azure(api_key=json.dumps(ENTRA)))
    assert created.status == 201, created.body
    assert created.body["options"] == {"api_version": "2024-10-21"}
    assert created.body["models"] == {created.body["name"]: "my-deployment"}
    assert "api_key" not in created.body
    changed = await operator.call(
        "PATCH",
        f"/api/channels/{created.body['name']}",
        {"options": {"api_version": "2025-04-01-preview"}, "enabled": False},
    )
    assert changed.body["options"] == {"api_version": "2025-04-01-preview"}
    listed = await operator.get("/api/channels")
    [shown] = [c for c in listed.body if c["name"] == created.body["name"]]
    assert shown["options"] == {"api_version": "2025-04-01-preview"}
    async with backend.engine.connect() as conn:
        audited = (
            await conn.execute(
                select(audit_log.c.changes).where(audit_log.c.object_id == created.body["id"])
            )
        ).all()
    assert "entra-secret-value" not in json.dumps([row.changes for row in audited])


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"options": None}, "options", "needs the option(s) api_version"),
        ({"options": {"api_version": "v1", "region": "x"}}, "options", "no option 'region'"),
        ({"options": {"api_version": "2024/10"}}, "options", "letters, digits"),
        ({"base_url": None}, "base_url", "no public endpoint"),
        ({"api_key": '{"tenant_id": "t"}'}, "api_key", "need the field 'client_id'"),
        ({"api_key": "{not json"}, "api_key", "not a valid JSON document"),
        ({"api_key": json.dumps({**ENTRA, "extra": "x"})}, "api_key", "no field 'extra'"),
        ({"provider": "openai"}, "options", "no option 'api_version'"),
    ],
)
async def test_settings_a_provider_does_not_take_are_refused(
    gateway: RunningGateway,
    backend: Backend,
    fields: dict[str, Any],
    param: str,
    words: str,
) -> None:
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    refused = await operator.post("/api/channels", azure(**fields))
    assert refused.status == 400, refused.body
    assert refused.body["error"]["param"] == param
    assert words in refused.body["error"]["message"]
    assert "entra-secret-value" not in json.dumps(refused.body)
