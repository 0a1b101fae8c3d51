"""Exact metering for every usage shape each provider reports.

The fake upstream reports recorded-style usage blocks verbatim; the gateway must record the
tokens and the cost the provider's documented price arithmetic gives, whether the client
speaks the provider's format (pass-through) or another one (translation), streaming or not.

Prices (USD per million tokens, from each provider's price page, as the price database has
them): gpt-4o input 2.50, cached 1.25, output 10; claude-sonnet-4-5 input 3, cache read 0.30,
cache write 3.75, output 15, and above 200k input tokens 6 / 0.60 / 7.50 / 22.50;
gemini-2.5-flash input 0.30, cached 0.03, output 2.50 (thinking included). Costs are in
micro-dollars: a price of P per million tokens is P micro-dollars per token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, recorded_events


@dataclass(frozen=True)
class Expected:
    input: int
    output: int
    cost: int
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0


@dataclass(frozen=True)
class Row:
    name: str
    provider: str
    block: dict[str, Any]
    expected: Expected
    stream: bool = False


ROWS = [
    # OpenAI counts cached tokens inside prompt_tokens and reasoning inside completion_tokens.
    Row(
        "plain",
        "openai",
        {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
        Expected(input=1000, output=200, cost=1000 * 25 // 10 + 200 * 10),
    ),
    Row(
        "cached input",
        "openai",
        {
            "prompt_tokens": 3000,
            "completion_tokens": 100,
            "total_tokens": 3100,
            "prompt_tokens_details": {"cached_tokens": 2048},
        },
        Expected(input=3000, cached=2048, output=100, cost=952 * 25 // 10 + 2560 + 100 * 10),
    ),
    Row(
        "reasoning",
        "openai",
        {
            "prompt_tokens": 500,
            "completion_tokens": 1500,
            "total_tokens": 2000,
            "completion_tokens_details": {"reasoning_tokens": 1200},
        },
        Expected(input=500, output=1500, reasoning=1200, cost=1250 + 1500 * 10),
    ),
    Row(
        "streaming terminal chunk",
        "openai",
        {
            "prompt_tokens": 3000,
            "completion_tokens": 100,
            "total_tokens": 3100,
            "prompt_tokens_details": {"cached_tokens": 2048},
            "completion_tokens_details": {"reasoning_tokens": 40},
        },
        Expected(input=3000, cached=2048, output=100, reasoning=40, cost=2380 + 2560 + 1000),
        stream=True,
    ),
    # Anthropic reports input_tokens without the cache reads and writes.
    Row(
        "plain",
        "anthropic",
        {"input_tokens": 1000, "output_tokens": 200},
        Expected(input=1000, output=200, cost=1000 * 3 + 200 * 15),
    ),
    Row(
        "cached input",
        "anthropic",
        {"input_tokens": 50, "cache_read_input_tokens": 4000, "output_tokens": 100},
        Expected(input=4050, cached=4000, output=100, cost=50 * 3 + 4000 * 3 // 10 + 100 * 15),
    ),
    Row(
        "cache write",
        "anthropic",
        {"input_tokens": 50, "cache_creation_input_tokens": 2000, "output_tokens": 100},
        Expected(input=2050, cache_write=2000, output=100, cost=50 * 3 + 2000 * 375 // 100 + 1500),
    ),
    Row(
        "long context, all input above 200k priced higher",
        "anthropic",
        {"input_tokens": 150_000, "cache_read_input_tokens": 60_000, "output_tokens": 1000},
        Expected(
            input=210_000,
            cached=60_000,
            output=1000,
            cost=150_000 * 6 + 60_000 * 6 // 10 + 1000 * 225 // 10,
        ),
    ),
    Row(
        "streaming message_delta",
        "anthropic",
        {
            "input_tokens": 50,
            "cache_read_input_tokens": 4000,
            "cache_creation_input_tokens": 2000,
            "output_tokens": 100,
        },
        Expected(
            input=6050,
            cached=4000,
            cache_write=2000,
            output=100,
            cost=150 + 1200 + 7500 + 1500,
        ),
        stream=True,
    ),
    # Gemini counts cached tokens inside promptTokenCount; thinking is apart from candidates.
    Row(
        "plain",
        "gemini",
        {"promptTokenCount": 1000, "candidatesTokenCount": 200, "totalTokenCount": 1200},
        Expected(input=1000, output=200, cost=1000 * 3 // 10 + 200 * 25 // 10),
    ),
    Row(
        "cached input",
        "gemini",
        {
            "promptTokenCount": 5000,
            "cachedContentTokenCount": 4000,
            "candidatesTokenCount": 100,
            "totalTokenCount": 5100,
        },
        Expected(input=5000, cached=4000, output=100, cost=300 + 4000 * 3 // 100 + 250),
    ),
    Row(
        "thinking",
        "gemini",
        {
            "promptTokenCount": 100,
            "candidatesTokenCount": 50,
            "thoughtsTokenCount": 400,
            "totalTokenCount": 550,
        },
        Expected(input=100, output=450, reasoning=400, cost=30 + 450 * 25 // 10),
    ),
    Row(
        "streaming last chunk",
        "gemini",
        {
            "promptTokenCount": 5000,
            "cachedContentTokenCount": 4000,
            "candidatesTokenCount": 50,
            "thoughtsTokenCount": 400,
            "totalTokenCount": 5450,
        },
        Expected(input=5000, cached=4000, output=450, reasoning=400, cost=300 + 120 + 1125),
        stream=True,
    ),
]

MODELS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}
# A client of another format than the provider's, so the same block crosses a translation.
OTHER_FORMAT = {"openai": "anthropic", "anthropic": "openai", "gemini": "openai"}


def request_for(client_format: str, model: str, stream: bool) -> tuple[str, dict[str, Any]]:
    """The path and body of a small generation request in `client_format`."""
    if client_format == "openai":
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        if stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        return "/v1/chat/completions", body
    if client_format == "anthropic":
        body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
        return "/v1/messages", body | ({"stream": True} if stream else {})
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/{model}:{method}", {"contents": [{"parts": [{"text": "hi"}]}]}


@pytest.fixture
async def http(gateway: RunningGateway, tenant: Tenant) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {
        "Authorization": f"Bearer {tenant.secret}",
        "x-goog-api-key": tenant.secret,
        "anthropic-version": "2023-06-01",
    }
    async with aiohttp.ClientSession(gateway.url, headers=headers) as session:
        yield session


@pytest.mark.parametrize("crossing", [False, True], ids=["pass-through", "translated"])
@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row.provider}: {row.name}")
async def test_usage_block_is_metered_exactly(
    row: Row,
    crossing: bool,
    http: aiohttp.ClientSession,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
) -> None:
    client_format = OTHER_FORMAT[row.provider] if crossing else row.provider
    path, body = request_for(client_format, MODELS[row.provider], row.stream)
    fake_upstream.report_usage_next(row.block)
    async with http.post(path, json=body) as response:
        answer = await response.read()
        assert response.status == 200, answer
    [event] = await recorded_events(backend, tenant, 1)
    expected = row.expected
    recorded = (
        event.input_tokens,
        event.cached_input_tokens,
        event.cache_write_tokens,
        event.output_tokens,
        event.reasoning_tokens,
    )
    assert recorded == (
        expected.input,
        expected.cached,
        expected.cache_write,
        expected.output,
        expected.reasoning,
    )
    assert not event.tokens_estimated
    assert event.cost == expected.cost
