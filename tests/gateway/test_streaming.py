"""Streams pass through as they arrive, end cleanly when the upstream breaks off, and
stop the upstream when the client goes away."""

from __future__ import annotations

import time

import aiohttp
import openai
import orjson
import pytest

from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.test_chat_completions import client_for
from tests.support import Backend, Tenant, recorded_events


async def test_cut_stream_ends_with_an_error_event_and_an_estimate(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    received = ""
    async with client_for(gateway, tenant) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "a long answer please [[fault:cut]]"}],
            stream=True,
        )
        with pytest.raises(openai.APIError, match="broke off"):
            async for chunk in stream:
                received += chunk.choices[0].delta.content or ""
    assert received
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 502 and event.error_type == "upstream_error"
    assert event.tokens_estimated and event.output_tokens > 0


async def test_first_chunk_arrives_before_the_stream_ends(
    gateway: RunningGateway, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.config.tokens_per_second = 20
    try:
        started = time.monotonic()
        arrivals: list[float] = []
        async with client_for(gateway, tenant) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "one two three four five six seven"}],
                stream=True,
            )
            async for _ in stream:
                arrivals.append(time.monotonic() - started)
    finally:
        fake_upstream.config.tokens_per_second = 0
    # Paced at 20 tokens/s, the whole stream takes several hundred ms; unbuffered
    # relaying means the first chunk arrives long before the last one.
    assert arrivals[-1] - arrivals[0] > 0.2


async def test_client_disconnect_closes_the_upstream_and_is_recorded(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.config.tokens_per_second = 10
    body = orjson.dumps(
        {
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": " ".join(["word"] * 200)}],
        }
    )
    headers = {"Authorization": f"Bearer {tenant.secret}", "Content-Type": "application/json"}
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            response = await session.post(gateway.url + "/v1/chat/completions", data=body)
            assert response.status == 200
            await response.content.readuntil(b"\n\n")
            await response.content.readuntil(b"\n\n")
            response.close()  # the client goes away mid-stream
        [event] = await recorded_events(backend, tenant, 1)
    finally:
        fake_upstream.config.tokens_per_second = 0
    assert event.status_code == 499 and event.error_type == "client_disconnected"
    assert event.tokens_estimated and event.output_tokens > 0
    # 200 words at 10 tokens/s would take 20 s; the abandoned stream was cut short.
    assert event.latency_ms < 5_000
