"""The OpenAI provider's presets against the fake's hosts, each in its own dialect (real
HTTP, the official SDKs): the channel reaches the host's path with its key (or none, for
Ollama and vLLM), and the usage the host reports in its own fields is charged as the
tokens really were, cached tokens at their cached price and reasoning at the output's."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from aisonar.billing.price_database import lookup
from aisonar.billing.prices import set_price
from aisonar.channels import services as channels
from aisonar.channels.presets import PRESETS
from aisonar.crypto import SecretBox
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from aisonar.token_usage import TokenUsage
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY
from tests.gateway.azure.conftest import disable, gateway_knows
from tests.gateway.sdk_clients import AnthropicClient, OpenAIClient
from tests.support import Backend, Tenant, recorded_events

# A model each host prices in the catalogue; the self-hosted ones are priced by the operator.
MODELS = {
    "deepseek": "deepseek-chat",
    "mistral": "mistral-small-latest",
    "groq": "llama-3.3-70b-versatile",
    "xai": "grok-3-mini",
    "openrouter": "openai/gpt-4o-mini",
    "together": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "fireworks": "accounts/fireworks/models/llama-v3p1-8b-instruct",
    "ollama": "llama3.2",
    "vllm": "Qwen/Qwen2.5-7B-Instruct",
}
# Credits per million tokens, the operator's price of a self-hosted model.
OWN_INPUT, OWN_CACHED, OWN_OUTPUT = "0.5", "0.1", "1.5"
# What each answer reports, in OpenAI's convention: the fake says it in the host's.
REPORTED = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1000},
    "completion_tokens_details": {"reasoning_tokens": 120},
}
TRUE_USAGE = TokenUsage(
    input_tokens=1200, cached_input_tokens=1000, output_tokens=300, reasoning_tokens=120
)

MakeHostChannel = Callable[..., Awaitable[str]]


@pytest.fixture
async def host_channel(
    backend: Backend, gateway: RunningGateway, fake_upstream: FakeUpstream
) -> AsyncIterator[MakeHostChannel]:
    """`await host_channel(preset)`: a channel of the preset on the fake's host, serving the
    preset's model before any other channel; its name."""
    made: list[str] = []

    async def make(preset: str) -> str:
        model = MODELS[preset]
        keyless = not PRESETS[preset].needs_key
        async with backend.engine.begin() as conn:
            created = await channels.create_channel(
                conn,
                SecretBox(TEST_SECRET_KEY),
                name=f"{preset}-{secrets.token_hex(4)}",
                provider="openai",
                base_url=fake_upstream.host_url(preset),
                api_key="" if keyless else UPSTREAM_KEY,
                models=model,
                options={"preset": preset},
                priority=1_000,
            )
            if keyless:
                await set_price(
                    conn, model, input=OWN_INPUT, cached_input=OWN_CACHED, output=OWN_OUTPUT
                )
        made.append(created.name)
        await gateway_knows(gateway, created.id, model if keyless else None)
        return created.name

    yield make
    await disable(backend, made)


def _price(preset: str, gateway: RunningGateway) -> Any:
    if PRESETS[preset].needs_key:
        return lookup(MODELS[preset], PRESETS[preset].prices_under)
    return gateway.app.runtime.services.billing.prices.price(MODELS[preset], "openai")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("preset", sorted(PRESETS))
async def test_each_hosts_usage_is_charged_as_the_tokens_really_were(
    backend: Backend,
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    host_channel: MakeHostChannel,
    preset: str,
    stream: bool,
) -> None:
    await host_channel(preset)
    fake_upstream.report_usage_next(REPORTED)
    client = OpenAIClient(gateway, tenant.secret)
    try:
        answer = await (client.stream if stream else client.text)(MODELS[preset], "Hello")
    finally:
        await client.close()
    assert answer.text
    [event] = await recorded_events(backend, tenant, 1)
    assert event.provider == PRESETS[preset].prices_under
    assert (event.input_tokens, event.cached_input_tokens) == (1200, 1000)
    assert (event.output_tokens, event.reasoning_tokens) == (300, 120)
    assert not event.tokens_estimated
    price = _price(preset, gateway)
    assert price is not None and price.cached_input.base < price.input.base
    assert event.cost == price.cost(TRUE_USAGE) > 0
    sent = fake_upstream.received_headers[-1]
    if PRESETS[preset].needs_key:
        assert sent["Authorization"] == f"Bearer {UPSTREAM_KEY}"
    else:
        assert "Authorization" not in sent


@pytest.mark.parametrize(
    ("preset", "stream"), [("deepseek", False), ("xai", False), ("mistral", True), ("groq", True)]
)
async def test_a_client_of_another_format_is_told_and_charged_the_true_tokens(
    backend: Backend,
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    host_channel: MakeHostChannel,
    preset: str,
    stream: bool,
) -> None:
    await host_channel(preset)
    fake_upstream.report_usage_next(REPORTED)
    client = AnthropicClient(gateway, tenant.secret)
    try:
        answer = await (client.stream if stream else client.text)(MODELS[preset], "Hello")
    finally:
        await client.close()
    assert answer.output_tokens == 300
    [event] = await recorded_events(backend, tenant, 1)
    assert (event.cached_input_tokens, event.output_tokens, event.reasoning_tokens) == (
        1000,
        300,
        120,
    )
    assert event.cost == _price(preset, gateway).cost(TRUE_USAGE)
    if preset == "mistral":
        assert "stream_options" not in fake_upstream.received[-1]


def test_a_host_prices_only_the_names_its_own_prices_list() -> None:
    # OpenRouter names OpenAI's model `openai/gpt-4o-mini`; OpenAI's own name is not its.
    assert lookup("openai/gpt-4o-mini", PRESETS["openrouter"].prices_under) is not None
    assert lookup("gpt-4o-mini", PRESETS["openrouter"].prices_under) is None
    assert lookup("gpt-4o-mini", "openai") is not None
    # A self-hosted server's models are the operator's to price.
    assert lookup(MODELS["ollama"], PRESETS["ollama"].prices_under) is None
    assert lookup("gpt-4o-mini", PRESETS["vllm"].prices_under) is None
