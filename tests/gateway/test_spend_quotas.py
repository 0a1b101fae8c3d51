"""Spend quotas through the gateway with the openai SDK: a quota that is spent gets 429
insufficient_quota until its period resets; holds keep concurrent requests within it;
a restarted gateway remembers what was spent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from aisonar.billing.money import parse_amount
from aisonar.limits.models import LimitChanges, Subject, SubjectKind
from aisonar.limits.services import set_limits
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    recorded_events,
    settled_balance,
)

# The fake answers as many words as it is given, up to max_tokens. metered-model charges
# output only: 10 tokens cost 0.01, and that is also the hold.
PROMPT: list[ChatCompletionMessageParam] = [{"role": "user", "content": " ".join(["w"] * 50)}]
REQUEST_COST = parse_amount("0.01")


async def quota(backend: Backend, kind: SubjectKind, subject_id: str, **caps: str) -> None:
    async with backend.engine.begin() as conn:
        changes = LimitChanges(**{k: parse_amount(v) for k, v in caps.items()})
        await set_limits(conn, Subject(kind, subject_id), changes)


def client(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


async def spend_one(c: openai.AsyncOpenAI) -> None:
    await c.chat.completions.create(model="metered-model", messages=PROMPT, max_tokens=10)


def seconds_to_midnight() -> float:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


async def test_a_spent_daily_quota_is_refused_until_midnight(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await quota(backend, SubjectKind.KEY, tenant.key_id, daily_spend="0.03")
    async with client(gateway, tenant) as c:
        for _ in range(3):
            await spend_one(c)
        with pytest.raises(openai.RateLimitError) as refused:
            await spend_one(c)
    body = refused.value.body
    assert isinstance(body, dict) and body["code"] == "insufficient_quota"
    assert body["type"] == "insufficient_quota"
    assert f"daily spend quota of key {tenant.key_id} is exhausted" in body["message"]
    assert "0.03" in body["message"]
    assert abs(int(refused.value.response.headers["retry-after"]) - seconds_to_midnight()) < 5
    events = await recorded_events(backend, tenant, 4)
    assert [e.status_code for e in events] == [200, 200, 200, 429]
    assert [e.limit_decision for e in events[:3]] == ["admitted"] * 3
    assert events[-1].limit_decision == f"refused: daily spend quota of key {tenant.key_id}"
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - 3 * REQUEST_COST)
    await assert_ledger_invariant(backend.engine, tenant.org_id)


async def test_a_request_that_could_cost_more_than_is_left_is_told_so(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await quota(backend, SubjectKind.USER, tenant.user_id, monthly_spend="0.015")
    async with client(gateway, tenant) as c:
        await spend_one(c)
        with pytest.raises(openai.RateLimitError) as refused:
            await spend_one(c)
        # A smaller request fits in what is left.
        await c.chat.completions.create(model="metered-model", messages=PROMPT, max_tokens=5)
    message = refused.value.message
    assert "may cost up to 0.01" in message and "has 0.005 left" in message
    assert f"monthly spend quota of user {tenant.email}" in message


async def test_concurrent_requests_stay_within_the_quota(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await quota(backend, SubjectKind.ORG, tenant.org_id, daily_spend="0.05")
    async with client(gateway, tenant) as c:
        outcomes = await asyncio.gather(*(spend_one(c) for _ in range(20)), return_exceptions=True)
    assert sum(outcome is None for outcome in outcomes) == 5
    assert all(
        isinstance(outcome, openai.RateLimitError) for outcome in outcomes if outcome is not None
    )
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - 5 * REQUEST_COST)


async def test_a_restarted_gateway_remembers_what_was_spent_today(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await quota(backend, SubjectKind.KEY, tenant.key_id, daily_spend="0.02")
    async with client(gateway, tenant) as c:
        await spend_one(c)
        await spend_one(c)
    await recorded_events(backend, tenant, 2)
    async with running_gateway(backend.settings) as restarted, client(restarted, tenant) as c:
        with pytest.raises(openai.RateLimitError, match="exhausted"):
            await spend_one(c)


async def test_requests_without_quotas_record_no_decision(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client(gateway, tenant) as c:
        await spend_one(c)
    [event] = await recorded_events(backend, tenant, 1)
    assert event.limit_decision is None and event.cost == REQUEST_COST
