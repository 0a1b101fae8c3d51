"""The payment webhook refuses every malformed signature header with a 4xx that changes
nothing, and an event id credits once: the same event again is acknowledged, the same id
with another organization, amount or currency is a 409, even when deliveries race."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest
from sqlalchemy import func, select

from aisonar.billing.money import parse_amount
from aisonar.billing.payments import sign
from aisonar.store.tables import ledger_entries
from aisonar.testing.gateway_server import RunningGateway
from tests.billing.test_codes_and_payments import post_payment
from tests.conftest import PAYMENT_SECRET
from tests.support import Backend, Tenant, assert_ledger_invariant, make_tenant


def payment(tenant: Tenant, **fields: str) -> dict[str, str]:
    event = {
        "id": "evt_" + secrets.token_hex(8),
        "type": "payment.succeeded",
        "org": tenant.org_name,
        "amount": "40.00",
        "currency": "usd",
    }
    return event | fields


async def post_raw(gateway: RunningGateway, body: bytes, signature: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            gateway.url + "/api/payments/webhook",
            data=body,
            headers={"AISonar-Signature": signature, "Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.json()


async def payment_entries(backend: Backend, event_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(ledger_entries).where(ledger_entries.c.reference == event_id)
        return list(await conn.execute(query))


# Each turns the valid header `t=<now>,v1=<hex>` into a malformed one.
MALFORMED: dict[str, Callable[[int, str], str]] = {
    "5000-digit timestamp": lambda t, v1: f"t={'9' * 5000},v1={v1}",
    "5000-digit timestamp alone": lambda t, v1: f"t={'1' * 5000}",
    "timestamp beyond a float": lambda t, v1: f"t={'1' * 400},v1={v1}",
    "20-digit timestamp": lambda t, v1: f"t={'9' * 20},v1={v1}",
    "negative timestamp": lambda t, v1: f"t=-{t},v1={v1}",
    "non-numeric timestamp": lambda t, v1: f"t=soon,v1={v1}",
    "superscript digit": lambda t, v1: f"t=\u00b2,v1={v1}",
    "no timestamp": lambda t, v1: f"v1={v1}",
    "empty timestamp": lambda t, v1: f"t=,v1={v1}",
    "no signature": lambda t, v1: f"t={t}",
    "empty signature": lambda t, v1: f"t={t},v1=",
    "short signature": lambda t, v1: f"t={t},v1={v1[:20]}",
    "non-hex signature": lambda t, v1: f"t={t},v1={'z' * 64}",
    "non-ASCII signature": lambda t, v1: f"t={t},v1={v1[:63]}\u00e9",
    "repeated timestamp": lambda t, v1: f"t={t},t={t},v1={v1}",
    "repeated signature": lambda t, v1: f"t={t},v1={v1},v1={v1}",
    "a part without =": lambda t, v1: f"t={t},v1={v1},extra",
    "only commas": lambda t, v1: ",,,",
    "nonsense": lambda t, v1: "signed, trust me",
}


@pytest.mark.parametrize("malformed", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_signature_header_is_refused_and_changes_nothing(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, malformed: Callable[[int, str], str]
) -> None:
    event = payment(tenant)
    body = orjson.dumps(event)
    now = int(time.time())
    valid = sign(PAYMENT_SECRET, body, now)
    status, answer = await post_raw(gateway, body, malformed(now, valid.partition("v1=")[2]))
    assert status == 401 and answer["error"]["code"] == "bad_signature"
    assert await payment_entries(backend, event["id"]) == []
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == parse_amount("100")
    # Nothing was remembered of it: the event, signed properly, still credits.
    assert await post_raw(gateway, body, valid) == (200, {"received": True, "credited": True})
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == parse_amount("140")


async def test_an_event_id_reused_with_another_payload_is_a_conflict(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    other = await make_tenant(backend.engine)
    event = payment(tenant)
    assert await post_payment(gateway, event) == (200, {"received": True, "credited": True})
    # The same event again (a processor's retry) is acknowledged and credits nothing more.
    assert await post_payment(gateway, event) == (200, {"received": True, "credited": True})
    assert await post_payment(gateway, event | {"currency": "USD"}) == (
        200,
        {"received": True, "credited": True},
    )
    for changed in (
        {"amount": "41.00"},
        {"amount": "400"},
        {"org": other.org_name},
        {"org": "no-such-organization"},
        {"currency": "eur"},
    ):
        status, answer = await post_payment(gateway, event | changed)
        assert status == 409, changed
        assert answer["error"]["code"] == "payment_conflict"
        assert event["id"] in answer["error"]["message"]
    assert len(await payment_entries(backend, event["id"])) == 1
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == parse_amount("140")
    assert await assert_ledger_invariant(backend.engine, other.org_id) == parse_amount("100")


async def test_racing_deliveries_of_one_event_id_credit_once(
    gateway: RunningGateway, backend: Backend
) -> None:
    tenants = [await make_tenant(backend.engine) for _ in range(4)]
    same = payment(tenants[0])
    retries = await asyncio.gather(*(post_payment(gateway, same) for _ in range(4)))
    assert retries == [(200, {"received": True, "credited": True})] * 4
    assert len(await payment_entries(backend, same["id"])) == 1

    # One id naming four organizations at once: one of them is credited, once.
    shared = "evt_" + secrets.token_hex(8)
    events = [payment(t, id=shared) for t in tenants]
    statuses = [s for s, _ in await asyncio.gather(*(post_payment(gateway, e) for e in events))]
    assert sorted(statuses) == [200, 409, 409, 409]
    [entry] = await payment_entries(backend, shared)
    assert entry.org_id == tenants[statuses.index(200)].org_id
    balances = [await assert_ledger_invariant(backend.engine, t.org_id) for t in tenants]
    assert sum(balances) == parse_amount("400") + 2 * parse_amount("40")


async def test_an_overlong_event_id_is_refused(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    status, answer = await post_payment(gateway, payment(tenant, id="e" * 191))
    assert status == 400 and answer["error"]["type"] == "invalid_request_error"
    async with backend.engine.connect() as conn:
        query = select(func.count()).where(ledger_entries.c.org_id == tenant.org_id)
        assert (await conn.execute(query)).scalar_one() == 1  # the tenant's first balance
