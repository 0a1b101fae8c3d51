"""Run budgets through the gateway, with the official SDKs over loopback: a loop of
requests of one run stops exactly when its budget is spent, with a 402 in the client's own
format that the SDKs do not retry; parallel requests of a run never pass its budget, on one
gateway or two sharing Redis; a started run keeps its first budget; bad headers are a 400
that forwards nothing; the headers never go upstream and the run is the event's session."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from openai.types.chat import ChatCompletionMessageParam

from aisonar.billing.money import parse_amount
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway, free_port
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    make_tenant,
    recorded_events,
    settled_balance,
    start_gateway_process,
)

REDIS_URL = os.environ.get("AISONAR_TEST_REDIS_URL")
# The fake answers as many words as it is given, up to max_tokens. metered-model charges
# output only: 10 tokens cost 0.01, and that is also the hold.
PROMPT: list[ChatCompletionMessageParam] = [{"role": "user", "content": " ".join(["w"] * 50)}]
REQUEST_COST = parse_amount("0.01")


def run_headers(budget: str, run_id: str | None = None) -> dict[str, str]:
    return {
        "X-AISonar-Run-Id": run_id or "agent-" + secrets.token_hex(4),
        "X-AISonar-Run-Budget": budget,
    }


def client(gateway: RunningGateway, tenant: Tenant, headers: dict[str, str]) -> openai.AsyncOpenAI:
    # The SDK's own retries are on: a spent run must not be asked again.
    return openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, default_headers=headers
    )


async def spend_one(c: openai.AsyncOpenAI) -> None:
    await c.chat.completions.create(model="metered-model", messages=PROMPT, max_tokens=10)


async def test_a_loop_stops_exactly_when_its_runs_budget_is_spent(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, fake_upstream: FakeUpstream
) -> None:
    headers = run_headers("0.05")
    async with client(gateway, tenant, headers) as c:
        done = 0
        with pytest.raises(openai.APIStatusError) as refused:
            while done < 100:
                await spend_one(c)
                done += 1
        sent_headers = fake_upstream.received_headers[-1]
        # Another run of the same key goes on.
        await c.chat.completions.create(
            model="metered-model",
            messages=PROMPT,
            max_tokens=10,
            extra_headers=run_headers("0.05"),
        )
    assert done == 5
    assert refused.value.status_code == 402
    body = refused.value.body
    assert isinstance(body, dict) and body["code"] == "run_budget_exceeded"
    assert f"The budget of run {headers['X-AISonar-Run-Id']!r} is spent: 0.05" in body["message"]
    assert not [name for name in sent_headers if name.lower().startswith("x-aisonar")]
    # One event per request: the SDK did not retry the refusal.
    events = await recorded_events(backend, tenant, 7)
    assert len(events) == 7
    assert [e.status_code for e in events] == [200] * 5 + [402, 200]
    assert events[5].limit_decision == "refused: run budget"
    assert {e.session_id for e in events[:6]} == {headers["X-AISonar-Run-Id"]}
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - 6 * REQUEST_COST)
    await assert_ledger_invariant(backend.engine, tenant.org_id)


async def test_a_request_that_could_cost_more_than_is_left_is_told_so(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    headers = run_headers("0.015")
    async with client(gateway, tenant, headers) as c:
        await spend_one(c)
        with pytest.raises(openai.APIStatusError) as refused:
            await spend_one(c)
        # A smaller request fits in what is left.
        await c.chat.completions.create(model="metered-model", messages=PROMPT, max_tokens=5)
    message = refused.value.message
    assert "may cost up to 0.01" in message and "has 0.005 left of its budget of 0.015" in message


async def test_parallel_requests_of_a_run_never_pass_its_budget(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client(gateway, tenant, run_headers("0.05")) as c:
        outcomes = await asyncio.gather(*(spend_one(c) for _ in range(20)), return_exceptions=True)
    assert sum(outcome is None for outcome in outcomes) == 5
    refused = [outcome for outcome in outcomes if outcome is not None]
    assert all(isinstance(o, openai.APIStatusError) and o.status_code == 402 for o in refused)
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - 5 * REQUEST_COST)


async def test_a_started_run_keeps_its_first_budget(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    headers = run_headers("0.05")
    async with client(gateway, tenant, headers) as c:
        await spend_one(c)
        raised = {**headers, "X-AISonar-Run-Budget": "0.10"}
        with pytest.raises(openai.BadRequestError) as refused:
            await c.chat.completions.create(
                model="metered-model", messages=PROMPT, max_tokens=10, extra_headers=raised
            )
        # The same budget written otherwise is the same budget.
        same = {**headers, "X-AISonar-Run-Budget": "0.050"}
        await c.chat.completions.create(
            model="metered-model", messages=PROMPT, max_tokens=10, extra_headers=same
        )
    body = refused.value.body
    assert isinstance(body, dict) and body["code"] == "run_budget_conflict"
    assert "was started with a budget of 0.05, not 0.10" in body["message"]


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"X-AISonar-Run-Id": "a"}, "x-aisonar-run-budget"),
        ({"X-AISonar-Run-Budget": "1"}, "x-aisonar-run-id"),
        (run_headers("abc"), "x-aisonar-run-budget"),
        (run_headers("0"), "x-aisonar-run-budget"),
        (run_headers("-1"), "x-aisonar-run-budget"),
        (run_headers("0.0000001"), "x-aisonar-run-budget"),
        (run_headers("1e99"), "x-aisonar-run-budget"),
        (run_headers("NaN"), "x-aisonar-run-budget"),
        (run_headers("1", "r" * 129), "x-aisonar-run-id"),
        (run_headers("1", "tab\there"), "x-aisonar-run-id"),
    ],
)
async def test_bad_run_headers_are_a_400_that_forwards_nothing(
    gateway: RunningGateway,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    headers: dict[str, str],
    named: str,
) -> None:
    before = len(fake_upstream.received)
    async with client(gateway, tenant, headers) as c:
        with pytest.raises(openai.BadRequestError) as refused:
            await spend_one(c)
    assert named in refused.value.message
    body = refused.value.body
    assert isinstance(body, dict) and body["param"] == named
    assert len(fake_upstream.received) == before


async def test_a_spent_run_is_refused_in_anthropics_and_geminis_formats(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    # Less than any request of these models can cost.
    headers = run_headers("0.000001")
    async with anthropic.AsyncAnthropic(
        base_url=gateway.url, api_key=tenant.secret, default_headers=headers
    ) as claude:
        with pytest.raises(anthropic.APIStatusError) as refused:
            await claude.messages.create(
                model="claude-haiku-4-5",
                max_tokens=10,
                messages=[{"role": "user", "content": "Hello"}],
            )
    assert refused.value.status_code == 402
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert "may cost up to" in body["error"]["message"]
    gemini = genai.Client(
        api_key=tenant.secret,
        http_options=genai_types.HttpOptions(base_url=gateway.url, headers=headers),
    )
    with pytest.raises(genai_errors.ClientError) as told:
        await gemini.aio.models.generate_content(model="gemini-2.5-flash", contents="Hello")
    assert told.value.code == 402 and told.value.status == "FAILED_PRECONDITION"
    assert told.value.message is not None and "may cost up to" in told.value.message


@pytest.mark.skipif(not REDIS_URL, reason="AISONAR_TEST_REDIS_URL is not set")
async def test_two_gateways_sharing_redis_spend_a_runs_budget_once(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    ports = [free_port(), free_port()]
    redis = {"AISONAR_REDIS_URL": REDIS_URL or ""}
    servers = [await start_gateway_process(backend, port, extra_env=redis) for port in ports]
    payload = orjson.dumps({"model": "metered-model", "max_tokens": 10, "messages": PROMPT})
    headers = {
        "Authorization": f"Bearer {tenant.secret}",
        "Content-Type": "application/json",
        **run_headers("0.05"),
    }
    try:
        connector = aiohttp.TCPConnector(limit=30)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

            async def call(port: int) -> int:
                url = f"http://127.0.0.1:{port}/v1/chat/completions"
                async with session.post(url, data=payload) as response:
                    await response.read()
                    return response.status

            statuses = await asyncio.gather(*(call(ports[i % 2]) for i in range(30)))
            # Asked again one after the other, on either gateway: still spent.
            later = [await call(port) for port in ports]
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            await server.wait()
    assert sorted(statuses) == [200] * 5 + [402] * 25
    assert later == [402, 402]
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - 5 * REQUEST_COST)
