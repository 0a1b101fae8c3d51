"""Every official SDK against channels of every provider, over real HTTP: same format in and
out is passed through, any other is translated both ways, streams included."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.sdk_clients import SDKS, Answer, SdkClient
from tests.support import Backend, Tenant, recorded_events

PROVIDER_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
}
# The request field only each provider's own format has: proof the upstream got its format.
PROVIDER_SHAPE = {"openai": "messages", "anthropic": "max_tokens", "gemini": "contents"}
TEXT_FINISH = {"openai": "stop", "anthropic": "end_turn", "gemini": "STOP"}
TOOL_FINISH = {"openai": "tool_calls", "anthropic": "tool_use", "gemini": "STOP"}


@dataclass
class Combination:
    sdk: str
    provider: str
    client: SdkClient

    @property
    def model(self) -> str:
        return PROVIDER_MODELS[self.provider]


@pytest.fixture(
    params=[(sdk, provider) for sdk in SDKS for provider in PROVIDER_MODELS],
    ids=lambda pair: f"{pair[0]}-sdk-to-{pair[1]}",
)
async def combination(
    request: pytest.FixtureRequest, gateway: RunningGateway, tenant: Tenant
) -> AsyncIterator[Combination]:
    sdk, provider = request.param
    client = SDKS[sdk](gateway, tenant.secret)
    yield Combination(sdk, provider, client)
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
    marker = secrets.token_hex(8)
    answer = await call(combination.client)(combination.model, f"say {marker}")
    received = fake_upstream.received[-1]
    assert PROVIDER_SHAPE[combination.provider] in received
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 200, event.error_message
    assert event.endpoint.startswith(combination.client.endpoint)
    assert event.stream is stream
    assert event.requested_model == event.upstream_model == combination.model
    assert (event.input_tokens, event.output_tokens) == (answer.input_tokens, answer.output_tokens)
    assert event.input_tokens > 0 and event.output_tokens > 0
    assert not event.tokens_estimated
    assert event.cost > 0
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
