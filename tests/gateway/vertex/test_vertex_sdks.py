"""Every official SDK against a Vertex AI channel's Gemini and Claude models, over real HTTP:
a client of the model's own format is passed through (Claude's body without `model` and with
Vertex's `anthropic_version`), any other translated both ways, streams and tool calls
included; every request carries the service account's access token, and is charged exactly
its usage at the catalogue's price of the model as Vertex names it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from aisonar.billing.ledger import durable_balance
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.sdk_clients import SDKS, Answer, SdkClient
from tests.gateway.vertex.conftest import (
    CLAUDE,
    CLAUDE_RATES,
    GEMINI,
    GEMINI_RATES,
    MakeVertexChannel,
    VertexChannel,
    cost,
)
from tests.support import Backend, Tenant, assert_ledger_invariant, recorded_events, settled_balance

UPSTREAM = {"gemini": GEMINI, "claude": CLAUDE}
RATES = {"gemini": GEMINI_RATES, "claude": CLAUDE_RATES}
TEXT_FINISH = {"openai": "stop", "anthropic": "end_turn", "gemini": "STOP"}
TOOL_FINISH = {"openai": "tool_calls", "anthropic": "tool_use", "gemini": "STOP"}


@dataclass
class Combination:
    sdk: str
    family: str
    client: SdkClient
    channel: VertexChannel

    @property
    def model(self) -> str:
        return self.channel.gemini if self.family == "gemini" else self.channel.claude


@pytest.fixture(
    params=[(sdk, family) for sdk in SDKS for family in UPSTREAM],
    ids=lambda pair: f"{pair[0]}-sdk-to-vertex-{pair[1]}",
)
async def combination(
    request: pytest.FixtureRequest,
    gateway: RunningGateway,
    tenant: Tenant,
    vertex_channel: MakeVertexChannel,
) -> AsyncIterator[Combination]:
    sdk, family = request.param
    client = SDKS[sdk](gateway, tenant.secret)
    yield Combination(sdk, family, client, await vertex_channel())
    await client.close()


Call = Callable[[SdkClient], Callable[[str, str], Awaitable[Answer]]]


async def _check(
    combination: Combination,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    call: Call,
    *,
    stream: bool,
) -> Answer:
    async with backend.engine.connect() as conn:
        before = (await durable_balance(conn, tenant.org_id)).balance
    marker = secrets.token_hex(8)
    answer = await call(combination.client)(combination.model, f"say {marker}")

    received, headers = fake_upstream.received[-1], fake_upstream.received_headers[-1]
    assert headers["Authorization"].startswith("Bearer ya29.fake-")
    assert "model" not in received
    if combination.family == "claude":
        assert received["anthropic_version"] == "vertex-2023-10-16"
        assert "max_tokens" in received
    else:
        assert "contents" in received
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 200, event.error_message
    assert event.stream is stream
    assert event.upstream_model == UPSTREAM[combination.family]
    assert (event.input_tokens, event.output_tokens) == (answer.input_tokens, answer.output_tokens)
    assert event.input_tokens > 0 and event.output_tokens > 0
    assert not event.tokens_estimated
    charged = cost(RATES[combination.family], event.input_tokens, event.output_tokens)
    assert event.cost == charged
    await settled_balance(backend.engine, tenant.org_id, before - charged)
    await assert_ledger_invariant(backend.engine, tenant.org_id)
    if answer.tool_name is None:
        assert marker in answer.text
    else:
        assert answer.tool_arguments == {"city": f"say {marker}"}
    return answer


async def test_plain_text(
    combination: Combination, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    answer = await _check(
        combination, backend, tenant, fake_upstream, lambda c: c.text, stream=False
    )
    assert answer.finish == TEXT_FINISH[combination.sdk]


async def test_stream(
    combination: Combination, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    answer = await _check(
        combination, backend, tenant, fake_upstream, lambda c: c.stream, stream=True
    )
    assert answer.finish == TEXT_FINISH[combination.sdk]


async def test_tool_call(
    combination: Combination, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    answer = await _check(
        combination, backend, tenant, fake_upstream, lambda c: c.tool_call, stream=False
    )
    assert answer.tool_name == "get_weather"
    assert answer.finish == TOOL_FINISH[combination.sdk]


async def test_streamed_tool_call(
    combination: Combination, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    answer = await _check(
        combination, backend, tenant, fake_upstream, lambda c: c.streamed_tool_call, stream=True
    )
    assert answer.tool_name == "get_weather"
    assert answer.finish == TOOL_FINISH[combination.sdk]
