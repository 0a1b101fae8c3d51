"""Redemption codes, the signed payment webhook and balance alerts, over real HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import aiohttp
import orjson
from sqlalchemy import select

from aisonar.billing import codes
from aisonar.billing.ledger import set_low_balance_threshold
from aisonar.billing.money import parse_amount
from aisonar.billing.payments import sign
from aisonar.clock import utcnow
from aisonar.notify.notices import list_notices
from aisonar.store.tables import redemption_codes
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import PAYMENT_SECRET
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    make_tenant,
    read_files_elsewhere,
    settled_balance,
)


async def redeem(gateway: RunningGateway, tenant: Tenant, code: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {tenant.secret}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(gateway.url + "/api/me/redeem", json={"code": code}) as response,
    ):
        return response.status, await response.json()


async def make_codes(backend: Backend, amount: str, count: int, **kwargs: Any) -> list[str]:
    async with backend.engine.begin() as conn:
        batch = await codes.create_codes(
            conn, amount=amount, count=count, expires_at=kwargs.get("expires_at")
        )
    return batch.codes


async def test_a_code_credits_once(gateway: RunningGateway, backend: Backend) -> None:
    tenant, other = await make_tenant(backend.engine), await make_tenant(backend.engine)
    [code] = await make_codes(backend, "25.00", 1)
    status, body = await redeem(gateway, tenant, code.lower())  # case and spacing forgiven
    assert (status, body["redeemed"], body["balance"]) == (200, "25.00", "125.00")
    status, body = await redeem(gateway, other, code)
    assert status == 400 and body["error"]["code"] == "code_not_redeemable"
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == parse_amount("125")
    assert await assert_ledger_invariant(backend.engine, other.org_id) == parse_amount("100")


async def test_concurrent_redemptions_of_one_code_credit_once(
    gateway: RunningGateway, backend: Backend
) -> None:
    tenants = [await make_tenant(backend.engine) for _ in range(5)]
    [code] = await make_codes(backend, "7", 1)
    results = await asyncio.gather(*(redeem(gateway, t, code) for t in tenants))
    assert sorted(status for status, _ in results) == [200, 400, 400, 400, 400]


async def test_expired_codes_are_refused_and_codes_are_stored_hashed(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    [code] = await make_codes(backend, "5", 1, expires_at=utcnow() + timedelta(seconds=1))
    await asyncio.sleep(1.1)
    status, _ = await redeem(gateway, tenant, code)
    assert status == 400
    async with backend.engine.connect() as conn:
        stored = (await conn.execute(select(redemption_codes.c.code_hash))).scalars().all()
    assert code not in stored and codes.hash_code(code) in stored
    if backend.name == "sqlite":
        raw = read_files_elsewhere([str(p) for p in backend.settings.data_dir.glob("aisonar.db*")])
        assert code.encode() not in raw


async def test_guessing_is_throttled(gateway: RunningGateway, tenant: Tenant) -> None:
    for attempt in range(3):
        status, _ = await redeem(gateway, tenant, f"SONAR-GUESS-{attempt}")
        assert status == 400
    status, body = await redeem(gateway, tenant, "SONAR-GUESS-4")
    assert status == 429 and body["error"]["code"] == "too_many_redeem_attempts"


async def post_payment(
    gateway: RunningGateway,
    event: dict[str, str],
    *,
    secret: str = PAYMENT_SECRET,
    at: int | None = None,
) -> tuple[int, Any]:
    body = orjson.dumps(event)
    signature = sign(secret, body, at if at is not None else int(time.time()))
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            gateway.url + "/api/payments/webhook",
            data=body,
            headers={"AISonar-Signature": signature, "Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.json()


async def test_signed_payments_credit_once(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    event = {
        "id": f"evt_{tenant.org_id}",
        "type": "payment.succeeded",
        "org": tenant.org_name,
        "amount": "40.00",
        "currency": "usd",
    }
    assert await post_payment(gateway, event) == (200, {"received": True, "credited": True})
    assert (await post_payment(gateway, event))[0] == 200  # a replay credits nothing more
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == parse_amount("140")

    forged = await post_payment(gateway, {**event, "id": "evt_forged"}, secret="wrong")
    stale = await post_payment(gateway, {**event, "id": "evt_old"}, at=int(time.time()) - 600)
    other_currency = await post_payment(gateway, {**event, "id": "evt_eur", "currency": "EUR"})
    ignored = await post_payment(gateway, {**event, "id": "evt_refund", "type": "payment.failed"})
    assert (forged[0], stale[0], other_currency[0]) == (401, 401, 400)
    assert ignored == (200, {"received": True, "credited": False})
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == parse_amount("140")


async def test_crossing_the_threshold_and_zero_emit_notices(
    gateway: RunningGateway, backend: Backend
) -> None:
    tenant = await make_tenant(backend.engine, balance="0.03")
    async with backend.engine.begin() as conn:
        await set_low_balance_threshold(conn, tenant.org_id, parse_amount("0.025"))
    headers = {"Authorization": f"Bearer {tenant.secret}"}
    body = orjson.dumps(
        {
            "model": "metered-model",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "word " * 40}],
        }
    )
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(3):  # 0.01 each: 0.03 -> 0.02 (low) -> 0.01 -> 0.00 (exhausted)
            async with session.post(gateway.url + "/v1/chat/completions", data=body) as r:
                assert r.status == 200
                await asyncio.sleep(0.3)  # one ledger batch each
    # The notices are written with the balance, in the ledger writer's transaction.
    await settled_balance(backend.engine, tenant.org_id, 0)
    async with backend.engine.connect() as conn:
        found = [
            n for n in await list_notices(conn, tenant.org_id) if n.kind.startswith("balance_")
        ]
    assert [n.kind for n in reversed(found)] == ["balance_low", "balance_exhausted"]
    assert found[-1].data == {"balance": "0.02", "threshold": "0.025"}
