"""Failover between a Vertex AI channel and a direct one for the same model, both ways: a
Vertex channel whose service account Google refuses hands the request to the Gemini API, and
a Gemini API channel whose key is refused hands it to Vertex; the client sees one answer and
is charged once, by the channel that answered."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY, WRONG_UPSTREAM_KEY
from tests.gateway.vertex.conftest import GEMINI, LOCATION, PROJECT, gateway_knows
from tests.support import Backend, Tenant, recorded_events


@pytest.fixture
async def failing_over(backend: Backend) -> AsyncIterator[RunningGateway]:
    settings = backend.settings.model_copy(update={"failover_max_attempts": 2})
    async with running_gateway(settings) as running:
        yield running


@pytest.mark.parametrize("failing", ["vertex", "gemini"])
async def test_a_request_fails_over_between_vertex_and_the_gemini_api(
    failing: str,
    failing_over: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    service_account: dict[str, Any],
) -> None:
    model = f"failover-{secrets.token_hex(4)}"
    stranger = {**service_account, "client_email": "stranger@elsewhere.iam.gserviceaccount.com"}
    vertex_key = stranger if failing == "vertex" else service_account
    gemini_key = WRONG_UPSTREAM_KEY if failing == "gemini" else UPSTREAM_KEY
    box = SecretBox(TEST_SECRET_KEY)
    async with backend.engine.begin() as conn:
        first = await channels.create_channel(
            conn,
            box,
            name=f"{model}-{failing}",
            provider=failing,
            base_url=fake_upstream.root_url,
            api_key=json.dumps(vertex_key) if failing == "vertex" else gemini_key,
            models=f"{model}={GEMINI}",
            options={"project": PROJECT, "location": LOCATION} if failing == "vertex" else None,
            priority=1,
        )
        answering = "gemini" if failing == "vertex" else "vertex"
        second = await channels.create_channel(
            conn,
            box,
            name=f"{model}-{answering}",
            provider=answering,
            base_url=fake_upstream.root_url,
            api_key=json.dumps(vertex_key) if answering == "vertex" else gemini_key,
            models=f"{model}={GEMINI}",
            options={"project": PROJECT, "location": LOCATION} if answering == "vertex" else None,
        )
    await gateway_knows(failing_over, model)
    try:
        async with openai.AsyncOpenAI(
            base_url=failing_over.url + "/v1", api_key=tenant.secret, max_retries=0
        ) as client:
            reply = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "Hello there"}]
            )
        assert reply.choices[0].message.content == "Echo: Hello there"
        [event] = await recorded_events(backend, tenant, 1)
        assert event.status_code == 200 and event.channel_id == second.id
        assert event.cost > 0
        assert [attempt["channel_id"] for attempt in event.attempts] == [first.id, second.id]
    finally:
        async with backend.engine.begin() as conn:
            for name in (first.name, second.name):
                await channels.update_channel(conn, box, name, enabled=False)
