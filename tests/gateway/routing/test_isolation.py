"""One tenant cannot take a shared channel away from the others: requests that fail
because of what they are fail for their sender alone, while a channel that fails for
everyone still leaves rotation."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from aisonar.billing.money import parse_amount
from aisonar.channels.models import ChannelState
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.gateway.routing.conftest import ChannelSpec, Clock, MakeChannels, ask, openai_client
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    make_tenant,
    recorded_events,
    settled_balance,
)

FUNDED = parse_amount("100")


def poisoned(fault: str) -> str:
    """A message the fake upstream refuses with `fault`, as it would a body it cannot take."""
    return f"[[fault:{fault}]] " + "a very long document " * 50


async def test_one_tenants_poisoned_requests_leave_a_shared_channel_to_the_others(
    routed_gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    make_channels: MakeChannels,
    spare_upstream: FakeUpstream,
    clock: Clock,
) -> None:
    # The breaker's clock stands still: nothing slides out of its window here.
    health = routed_gateway.app.runtime.services.failover.health
    model, [shared] = await make_channels(ChannelSpec(spare_upstream.url))
    poisoner = await make_tenant(backend.engine)
    # More upstream 500s than the breaker's minimum of requests (3 here), all from one key.
    async with openai_client(routed_gateway, poisoner) as client:
        for number in range(6):
            with pytest.raises(openai.APIStatusError) as caught:
                await client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": poisoned("500")}],
                    stream=number % 2 == 1,
                )
            assert caught.value.status_code == 502
            body: Any = caught.value.body
            assert body["type"] == "server_error" and "Sorry" in body["message"]
    # Refused as too long or too large, in the Anthropic client's own format.
    claude = anthropic.AsyncAnthropic(
        base_url=routed_gateway.url, api_key=poisoner.secret, max_retries=0
    )
    async with claude:
        for fault, kind in [("400", "invalid_request_error"), ("413", "request_too_large")] * 2:
            with pytest.raises(anthropic.APIStatusError) as refused:
                await claude.messages.create(
                    model=model,
                    max_tokens=16,
                    messages=[{"role": "user", "content": poisoned(fault)}],
                )
            assert refused.value.status_code == int(fault)
            anthropic_body: Any = refused.value.body
            assert anthropic_body["type"] == "error"
            assert anthropic_body["error"]["type"] == kind
    # Each went upstream once: never again to the channel that failed it.
    assert len(spare_upstream.received) == 10
    assert health.state(shared) is ChannelState.CLOSED
    async with openai_client(routed_gateway, tenant) as client:
        assert await ask(client, model, stream=False)
        assert await ask(client, model, stream=True)
    answered = await recorded_events(backend, tenant, 2)
    assert all(e.status_code == 200 and e.channel_id == shared for e in answered)
    assert all(e.attempts is None for e in answered)
    refusals = await recorded_events(backend, poisoner, 10)
    assert sorted(e.status_code for e in refusals) == [400, 400, 413, 413] + [502] * 6
    # The 500s were the channel's possible faults, tried once; the 4xx were no fault.
    outcomes = [a["outcome"] for e in refusals for a in e.attempts or []]
    assert outcomes == ["http_500"] * 6
    assert all(e.cost == 0 for e in refusals)
    await settled_balance(backend.engine, poisoner.org_id, FUNDED)
    await assert_ledger_invariant(backend.engine, poisoner.org_id)


async def test_a_channel_failing_for_several_keys_still_leaves_rotation(
    routed_gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    make_channels: MakeChannels,
    spare_upstream: FakeUpstream,
    fake_upstream: FakeUpstream,
    clock: Clock,
) -> None:
    health = routed_gateway.app.runtime.services.failover.health
    spare_upstream.fail_next("500", 100)
    model, (failing, backup) = await make_channels(
        ChannelSpec(spare_upstream.url, priority=1), ChannelSpec(fake_upstream.url)
    )
    other = await make_tenant(backend.engine)
    for number in range(10):
        caller = (tenant, other)[number % 2]
        async with openai_client(routed_gateway, caller) as client:
            assert await ask(client, model, stream=number % 4 >= 2)
    assert health.state(failing) is ChannelState.OPEN
    events = []
    for caller in (tenant, other):
        answered = await recorded_events(backend, caller, 5)
        await settled_balance(backend.engine, caller.org_id, FUNDED - sum(e.cost for e in answered))
        await assert_ledger_invariant(backend.engine, caller.org_id)
        events += answered
    assert all(e.status_code == 200 and e.channel_id == backup for e in events)
    # Without the key that failed most, three of three requests failed: that took six
    # failures, three from each key, and every later request went straight to the backup.
    failed_over = [e for e in events if e.attempts]
    assert len(failed_over) == 6 == len(spare_upstream.received)
    assert all(
        [(a["channel_id"], a["outcome"]) for a in e.attempts]
        == [(failing, "http_500"), (backup, "ok")]
        for e in failed_over
    )
