"""Every answer says what it cost and how long the gateway itself took: a whole answer in
its headers (`x-aisonar-cost`, the ledger's charge for its `x-aisonar-request-id`, and
`x-aisonar-overhead-ms`), a stream in a trailing SSE comment that the official SDKs skip,
except Gemini's, whose SDK reads every line as JSON."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as genai_types
from sqlalchemy import select

from aisonar.billing.money import format_amount
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, recorded_events

COMMENT = b": x-aisonar-cost="


async def ledger_charge(backend: Backend, request_id: str) -> int:
    """The usage charge the ledger holds for a request, once the ledger writer wrote it."""
    from aisonar.store.tables import ledger_entries

    query = select(ledger_entries.c.amount).where(ledger_entries.c.request_id == request_id)
    for _ in range(200):
        async with backend.engine.connect() as conn:
            amount = (await conn.execute(query)).scalar_one_or_none()
        if amount is not None:
            return -int(amount)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no ledger charge for {request_id}")


def openai_client(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


def anthropic_client(gateway: RunningGateway, tenant: Tenant) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway.url, api_key=tenant.secret, max_retries=0)


async def whole_answer(gateway: RunningGateway, tenant: Tenant, sdk: str, model: str) -> Any:
    """The headers of one whole answer, asked with an official SDK."""
    if sdk == "gemini":
        options = genai_types.HttpOptions(
            base_url=gateway.url, retry_options=genai_types.HttpRetryOptions(attempts=1)
        )
        gemini = genai.Client(api_key=tenant.secret, http_options=options).aio
        try:
            reply = await gemini.models.generate_content(model=model, contents="price this answer")
        finally:
            await gemini.aclose()
        assert reply.text and reply.sdk_http_response and reply.sdk_http_response.headers
        # Its headers are a plain dict, their names as the HTTP client spelled them.
        return {name.lower(): value for name, value in reply.sdk_http_response.headers.items()}
    if sdk == "openai":
        async with openai_client(gateway, tenant) as client:
            chat = await client.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": "price this answer"}]
            )
            assert "price this answer" in (chat.parse().choices[0].message.content or "")
            return chat.headers
    async with anthropic_client(gateway, tenant) as claude:
        message = await claude.messages.with_raw_response.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "price this answer"}]
        )
        assert (await message.parse()).usage.output_tokens > 0
        return message.headers


@pytest.mark.parametrize(
    ("sdk", "model"),
    [
        ("openai", "gpt-4o-mini"),
        ("openai", "claude-haiku-4-5"),
        ("anthropic", "claude-haiku-4-5"),
        ("anthropic", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-flash"),
        ("gemini", "gpt-4o-mini"),
    ],
)
async def test_a_whole_answer_carries_its_exact_charge(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, sdk: str, model: str
) -> None:
    headers = await whole_answer(gateway, tenant, sdk, model)
    request_id = headers["x-aisonar-request-id"]
    assert request_id == headers["x-request-id"]
    charge = await ledger_charge(backend, request_id)
    [event] = await recorded_events(backend, tenant, 1)
    assert event.id == request_id and event.cost == charge > 0
    assert headers["x-aisonar-cost"] == format_amount(charge)
    assert float(headers["x-aisonar-overhead-ms"]) >= 0


@dataclass(frozen=True)
class StreamCall:
    path: str
    body: dict[str, Any]


MESSAGES = [{"role": "user", "content": "a few words"}]
STREAMS = {
    "openai": StreamCall("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": MESSAGES}),
    "openai translated": StreamCall(
        "/v1/chat/completions", {"model": "claude-haiku-4-5", "messages": MESSAGES}
    ),
    "anthropic": StreamCall(
        "/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": MESSAGES}
    ),
    "anthropic translated": StreamCall(
        "/v1/messages", {"model": "gemini-2.5-flash", "max_tokens": 64, "messages": MESSAGES}
    ),
    "responses": StreamCall("/v1/responses", {"model": "gpt-4o-mini", "input": "a few words"}),
    "responses translated": StreamCall(
        "/v1/responses", {"model": "claude-haiku-4-5", "input": "a few words"}
    ),
}


async def post_stream(
    gateway: RunningGateway, tenant: Tenant, call: StreamCall
) -> tuple[dict[str, str], bytes]:
    body = {**call.body, "stream": True}
    headers = {"Authorization": f"Bearer {tenant.secret}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(gateway.url + call.path, json=body, headers=headers) as response,
    ):
        assert response.status == 200
        return dict(response.headers), await response.read()


@pytest.mark.parametrize("name", STREAMS)
async def test_a_stream_ends_with_its_exact_charge_in_a_comment(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, name: str
) -> None:
    headers, body = await post_stream(gateway, tenant, STREAMS[name])
    assert "x-aisonar-cost" not in headers
    assert float(headers["x-aisonar-overhead-ms"]) >= 0
    *events, last = body.removesuffix(b"\n\n").split(b"\n\n")
    assert events and not any(COMMENT in event for event in events)
    assert last.startswith(COMMENT)
    charge = await ledger_charge(backend, headers["x-aisonar-request-id"])
    assert last.removeprefix(COMMENT).decode() == format_amount(charge)


async def test_the_official_sdks_read_a_stream_that_ends_in_a_comment(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with openai_client(gateway, tenant) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "stream these words"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in raw.parse()]
    assert "stream these words" in "".join(
        chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices
    )
    assert chunks[-1].usage is not None
    assert await ledger_charge(backend, raw.headers["x-aisonar-request-id"]) > 0
    async with (
        anthropic_client(gateway, tenant) as claude,
        claude.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "stream these words"}],
        ) as stream,
    ):
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert "stream these words" in text and final.usage.output_tokens > 0
    await recorded_events(backend, tenant, 2)


@pytest.mark.parametrize("query", ["alt=sse", ""])
async def test_a_gemini_stream_carries_no_comment(
    gateway: RunningGateway, tenant: Tenant, query: str
) -> None:
    """google-genai parses every line it does not know as JSON, so a Gemini stream, as
    server-sent events or a JSON array, ends as Gemini's does."""
    url = f"{gateway.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?{query}"
    body = {"contents": [{"role": "user", "parts": [{"text": "a few words"}]}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers={"x-goog-api-key": tenant.secret}) as response,
    ):
        assert response.status == 200
        answer = await response.read()
        assert float(response.headers["x-aisonar-overhead-ms"]) >= 0
    assert COMMENT not in answer
    if not query:
        assert orjson.loads(answer)[-1]["usageMetadata"]["totalTokenCount"] > 0


@pytest.fixture
def slow_upstream(fake_upstream: FakeUpstream) -> Iterator[float]:
    """The fake takes 0.3 s to answer, or to begin a stream."""
    fake_upstream.config.latency_s = fake_upstream.config.ttft_s = 0.3
    yield 300.0
    fake_upstream.config.latency_s = fake_upstream.config.ttft_s = 0.0


async def test_the_overhead_leaves_out_the_upstreams_time(
    gateway: RunningGateway, tenant: Tenant, slow_upstream: float
) -> None:
    messages: Any = [{"role": "user", "content": "take your time"}]
    async with openai_client(gateway, tenant) as client:
        started = time.perf_counter()
        whole = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=messages
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert 0 <= float(whole.headers["x-aisonar-overhead-ms"]) < elapsed_ms - slow_upstream
        started = time.perf_counter()
        stream = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=messages, stream=True
        )
        # A stream's head, and its overhead, come with its first chunk.
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert 0 <= float(stream.headers["x-aisonar-overhead-ms"]) < elapsed_ms - slow_upstream
        async for _ in stream.parse():
            pass


async def test_an_error_answer_says_it_cost_nothing(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    async with openai_client(gateway, tenant) as client:
        with pytest.raises(openai.NotFoundError) as refused:
            await client.chat.completions.create(
                model="no-such-model", messages=[{"role": "user", "content": "hi"}]
            )
    headers = refused.value.response.headers
    assert headers["x-aisonar-cost"] == "0.00"
    assert float(headers["x-aisonar-overhead-ms"]) >= 0
    assert headers["x-aisonar-request-id"] == headers["x-request-id"]
