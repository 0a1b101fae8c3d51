"""Hold, then settle, through the gateway with the openai SDK: exact charges, 402 when
short, nothing charged for failures, and no overspend under concurrency."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletionMessageParam
from sqlalchemy import select

from aisonar.billing.money import parse_amount
from aisonar.store.tables import ledger_entries
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    make_tenant,
    recorded_events,
    settled_balance,
)

LONG_PROMPT: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": " ".join(["word"] * 50)}
]
METERED_COST = 10 * 1000  # 10 output tokens at 1,000 credits per million tokens


def client(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


async def test_a_request_is_charged_its_exact_price(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client(gateway, tenant) as c:
        reply = await c.chat.completions.create(model="gpt-4o-mini", messages=LONG_PROMPT)
    assert reply.usage is not None
    # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
    expected = -(
        -(reply.usage.prompt_tokens * 150_000 + reply.usage.completion_tokens * 600_000)
        // 1_000_000
    )
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - expected)
    [event] = await recorded_events(backend, tenant, 1)
    assert event.cost == expected and event.price_version.startswith("genai-prices")
    async with backend.engine.connect() as conn:
        [entry] = list(
            await conn.execute(
                select(ledger_entries).where(ledger_entries.c.request_id == event.id)
            )
        )
    assert entry.amount == -expected and entry.kind == "usage"
    await assert_ledger_invariant(backend.engine, tenant.org_id)


async def test_short_balance_is_402_in_openai_format_and_nothing_is_forwarded(
    gateway: RunningGateway, backend: Backend, fake_upstream: FakeUpstream
) -> None:
    poor = await make_tenant(backend.engine, balance="0.000005")
    before = fake_upstream.received_count
    async with client(gateway, poor) as c:
        with pytest.raises(openai.APIStatusError) as caught:
            await c.chat.completions.create(
                model="metered-model",
                messages=LONG_PROMPT,
                max_tokens=10,
            )
    assert caught.value.status_code == 402
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "insufficient_balance"
    assert "0.01" in body["message"] and "0.000005" in body["message"]
    assert fake_upstream.received_count == before
    [event] = await recorded_events(backend, poor, 1)
    assert event.status_code == 402 and event.cost == 0
    assert await assert_ledger_invariant(backend.engine, poor.org_id) == 5


async def test_failed_requests_are_not_charged(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with client(gateway, tenant) as c:
        for fault in ("500", "429", "timeout"):
            with pytest.raises(openai.APIStatusError):
                await c.chat.completions.create(
                    model="metered-model",
                    messages=[{"role": "user", "content": f"[[fault:{fault}]]"}],
                    max_tokens=10,
                )
        # The 429's Retry-After took the channel out of rotation; bring it back at once.
        gateway.app.runtime.services.failover.health.forget_except(())
        # The holds were released: the whole balance can be held again.
        reply = await c.chat.completions.create(
            model="metered-model",
            messages=LONG_PROMPT,
            max_tokens=10,
        )
    assert reply.usage is not None and reply.usage.completion_tokens == 10
    events = await recorded_events(backend, tenant, 4)
    assert [e.cost for e in events] == [0, 0, 0, METERED_COST]
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - METERED_COST)
    await assert_ledger_invariant(backend.engine, tenant.org_id)


async def test_unpriced_models_are_refused(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with backend.engine.begin() as conn:
        from aisonar.channels import services as channels
        from aisonar.crypto import SecretBox
        from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY

        await channels.create_channel(
            conn,
            SecretBox(TEST_SECRET_KEY),
            name=f"unpriced-{tenant.org_id}",
            provider="openai",
            base_url="http://127.0.0.1:9/v1",
            api_key=UPSTREAM_KEY,
            models=f"unpriced-{tenant.org_id}",
        )
    model = f"unpriced-{tenant.org_id}"
    async with client(gateway, tenant) as c:
        for _ in range(40):  # the new channel reaches the server within a poll
            try:
                await c.chat.completions.create(model=model, messages=LONG_PROMPT)
            except openai.PermissionDeniedError as refused:
                assert refused.code == "model_not_priced"
                return
            except openai.NotFoundError:
                await asyncio.sleep(0.05)
    raise AssertionError("an unpriced model was not refused")


async def test_concurrent_requests_never_overspend(
    gateway: RunningGateway, backend: Backend
) -> None:
    tenant = await make_tenant(backend.engine, balance="1.00")  # exactly 100 requests
    body = orjson.dumps({"model": "metered-model", "messages": LONG_PROMPT, "max_tokens": 10})
    headers = {"Authorization": f"Bearer {tenant.secret}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=500)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def call() -> int:
            async with session.post(gateway.url + "/v1/chat/completions", data=body) as r:
                await r.read()
                return r.status

        statuses = Counter(await asyncio.gather(*(call() for _ in range(500))))
    assert statuses == {200: 100, 402: 400}
    await settled_balance(backend.engine, tenant.org_id, 0)
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == 0


async def test_billing_off_prices_and_records_but_charges_nothing(
    backend: Backend, tenant: Tenant
) -> None:
    from aisonar.testing.gateway_server import running_gateway

    settings = backend.settings.model_copy(update={"billing_enabled": False})
    async with running_gateway(settings) as unbilled:
        poor = await make_tenant(backend.engine, balance="0")
        async with client(unbilled, poor) as c:
            await c.chat.completions.create(
                model="metered-model", messages=LONG_PROMPT, max_tokens=10
            )
    [event] = await recorded_events(backend, poor, 1)
    assert event.cost == METERED_COST and event.price_version.startswith("operator #")
    assert await assert_ledger_invariant(backend.engine, poor.org_id) == 0


async def test_plan_and_organization_markups_multiply_the_price(
    gateway: RunningGateway, backend: Backend
) -> None:
    from aisonar.accounts.markups import set_org_markup, set_plan_markup

    tenant = await make_tenant(backend.engine, plan="enterprise")
    async with backend.engine.begin() as conn:
        await set_plan_markup(conn, "enterprise", "2")
        await set_org_markup(conn, tenant.org_name, "1.5")
    try:
        await asyncio.sleep(0.2)  # the change reaches the server's key cache
        async with client(gateway, tenant) as c:
            await c.chat.completions.create(
                model="metered-model", messages=LONG_PROMPT, max_tokens=10
            )
    finally:
        async with backend.engine.begin() as conn:
            await set_plan_markup(conn, "enterprise", "1")
    [event] = await recorded_events(backend, tenant, 1)
    assert event.cost == METERED_COST * 3
    assert event.price_version.endswith("x3")
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - event.cost)


async def test_balance_show_reflects_a_settled_request(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    from click.testing import CliRunner

    from aisonar.cli import main
    from tests.support import cli_environment

    async with client(gateway, tenant) as c:
        await c.chat.completions.create(model="metered-model", messages=LONG_PROMPT, max_tokens=10)
    # The ledger writer flushes every 0.25 s here: wait for it, up to ten seconds.
    for _ in range(100):
        shown = await asyncio.to_thread(
            CliRunner().invoke,
            main,
            ["balance", "show", tenant.org_name, "--json"],
            env=cli_environment(backend),
        )
        balance = orjson.loads(shown.stdout)["balance"]
        if balance != "100.00":
            break
        await asyncio.sleep(0.1)
    assert balance == "99.99"
