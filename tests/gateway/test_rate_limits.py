"""Rate limits through the gateway: refusals in the client's format with Retry-After,
OpenAI's x-ratelimit-* headers, levels that share one count, slots given back."""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from aisonar.accounts import services as accounts
from aisonar.limits.models import LimitChanges, Subject, SubjectKind
from aisonar.limits.services import set_limits
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, recorded_events

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello"}]


async def limit(backend: Backend, kind: SubjectKind, subject_id: str, **limits: int) -> None:
    async with backend.engine.begin() as conn:
        await set_limits(conn, Subject(kind, subject_id), LimitChanges(**limits))


def client(gateway: RunningGateway, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


async def test_a_key_over_its_requests_per_minute_gets_a_429_that_says_when(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await limit(backend, SubjectKind.KEY, tenant.key_id, rpm=3)
    remaining = []
    async with client(gateway, tenant.secret) as c:
        for _ in range(3):
            raw = await c.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=HELLO, max_tokens=5
            )
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
            remaining.append(raw.headers["x-ratelimit-remaining-requests"])
        with pytest.raises(openai.RateLimitError) as refused:
            await c.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=5)
    assert remaining == ["2", "1", "0"]
    assert "requests per minute of key" in refused.value.message
    # One request's worth comes back in 60 s / 3.
    assert 15 <= int(refused.value.response.headers["retry-after"]) <= 20
    events = await recorded_events(backend, tenant, 4)
    assert [e.status_code for e in events] == [200, 200, 200, 429]
    assert events[-1].error_type == "rate_limit_error" and events[-1].cost == 0
    assert [e.limit_decision for e in events[:3]] == ["admitted"] * 3
    assert events[-1].limit_decision == f"refused: requests per minute of key {tenant.key_id}"


async def test_an_anthropic_client_is_refused_in_its_own_format(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await limit(backend, SubjectKind.KEY, tenant.key_id, rpm=1)
    async with anthropic.AsyncAnthropic(
        base_url=gateway.url, api_key=tenant.secret, max_retries=0
    ) as c:
        await c.messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        with pytest.raises(anthropic.RateLimitError) as refused:
            await c.messages.create(
                model="claude-haiku-4-5",
                max_tokens=5,
                messages=[{"role": "user", "content": "hi"}],
            )
    body = refused.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "rate_limit_error"
    assert refused.value.response.headers["retry-after"]


async def test_an_organizations_limit_counts_every_key_of_it(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with backend.engine.begin() as conn:
        _, second_secret = await accounts.create_key(conn, tenant.email, name="second")
    await limit(backend, SubjectKind.ORG, tenant.org_id, rpm=2)
    async with client(gateway, tenant.secret) as first, client(gateway, second_secret) as second:
        await first.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=5)
        await second.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=5)
        with pytest.raises(openai.RateLimitError) as refused:
            await first.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=5)
    assert f"of org {tenant.org_name}" in refused.value.message


async def test_a_request_in_flight_holds_its_slot_until_it_ends(
    gateway: RunningGateway, tenant: Tenant, backend: Backend, fake_upstream: FakeUpstream
) -> None:
    await limit(backend, SubjectKind.KEY, tenant.key_id, concurrent=1)
    fake_upstream.config.tokens_per_second = 20
    try:
        async with client(gateway, tenant.secret) as c:
            stream = await c.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "one two three four five six"}],
                stream=True,
            )
            with pytest.raises(openai.RateLimitError) as refused:
                await c.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
            async for _ in stream:
                pass
            # The slot came back with the end of the stream.
            await c.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=5)
    finally:
        fake_upstream.config.tokens_per_second = 0
    assert "requests in flight of key" in refused.value.message


async def test_tokens_are_counted_as_used_not_as_estimated(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await limit(backend, SubjectKind.KEY, tenant.key_id, tpm=10_000)
    async with client(gateway, tenant.secret) as c:
        first = await c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=HELLO, max_tokens=5_000
        )
        # Admitted on its estimate: the prompt's bytes / 4 and the whole 5,000 tokens.
        assert int(first.headers["x-ratelimit-remaining-tokens"]) < 5_000
        usage = first.parse().usage
        assert usage is not None
        await asyncio.sleep(0)
        second = await c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=HELLO, max_tokens=1
        )
    # Corrected to what the first really used (a few tokens), so most of the minute is left:
    # all but that and the second's own estimate (its body's bytes / 4, about 22 tokens, and
    # its 1), less the refill if the two came within a few milliseconds.
    remaining = int(second.headers["x-ratelimit-remaining-tokens"])
    assert remaining >= 10_000 - usage.total_tokens - 40


async def test_a_key_without_limits_gets_no_rate_limit_headers(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client(gateway, tenant.secret) as c:
        raw = await c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=HELLO, max_tokens=5
        )
    assert "x-ratelimit-limit-requests" not in raw.headers
    [event] = await recorded_events(backend, tenant, 1)
    assert event.status_code == 200 and event.limit_decision is None


async def test_embeddings_and_responses_count_against_the_same_limit(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await limit(backend, SubjectKind.KEY, tenant.key_id, rpm=2)
    async with client(gateway, tenant.secret) as c:
        await c.embeddings.create(model="text-embedding-3-small", input="hello")
        await c.responses.create(model="gpt-4o-mini", input="hello", max_output_tokens=16)
        with pytest.raises(openai.RateLimitError):
            await c.embeddings.create(model="text-embedding-3-small", input="hello")
    events = await recorded_events(backend, tenant, 3)
    assert [e.limit_decision.split(":")[0] for e in events] == ["admitted", "admitted", "refused"]
