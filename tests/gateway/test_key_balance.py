"""`GET /v1/me/balance`: a key reads its own organization's balance (the ledger's sum),
what it and its organization spent, and the limits that apply to it, with what each spend
quota has used; never another organization's; a revoked key is refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import openai
from sqlalchemy import func, select

from aisonar.accounts import services as accounts
from aisonar.billing.money import format_amount, parse_amount
from aisonar.limits.models import LimitChanges, Subject, SubjectKind
from aisonar.limits.services import set_limits
from aisonar.store.tables import ledger_entries
from aisonar.testing.gateway_server import RunningGateway
from tests.support import Backend, Tenant, make_tenant, recorded_events, settled_balance


async def my_balance(gateway: RunningGateway, secret: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {secret}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(gateway.url + "/v1/me/balance", headers=headers) as response,
    ):
        return response.status, await response.json()


async def ledger_sum(backend: Backend, org_id: str) -> int:
    async with backend.engine.connect() as conn:
        query = select(func.sum(ledger_entries.c.amount)).where(ledger_entries.c.org_id == org_id)
        return int((await conn.execute(query)).scalar_one())


async def test_a_key_reads_its_balance_spend_and_quotas(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    async with backend.engine.begin() as conn:
        key, org = Subject(SubjectKind.KEY, tenant.key_id), Subject(SubjectKind.ORG, tenant.org_id)
        await set_limits(conn, key, LimitChanges(rpm=100, daily_spend=parse_amount("5")))
        await set_limits(conn, org, LimitChanges(monthly_spend=parse_amount("50")))
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        for _ in range(2):
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "spend a little"}]
            )
    events = await recorded_events(backend, tenant, 2)
    spent = sum(event.cost for event in events)
    assert spent > 0
    await settled_balance(backend.engine, tenant.org_id, parse_amount("100") - spent)

    status, answer = await my_balance(gateway, tenant.secret)

    assert status == 200
    balance = format_amount(await ledger_sum(backend, tenant.org_id))
    assert answer["organization_id"] == tenant.org_id and answer["key_id"] == tenant.key_id
    assert (answer["balance"], answer["held"], answer["available"]) == (balance, "0.00", balance)
    assert answer["currency"] == backend.settings.currency
    both = {"day": format_amount(spent), "month": format_amount(spent)}
    assert answer["spent"] == {"key": both, "organization": both}
    now = datetime.now(UTC)
    today, month = f"{now:%Y-%m-%d}T00:00:00Z", f"{now:%Y-%m}-01T00:00:00Z"
    [daily, monthly] = answer["quotas"]
    assert daily["dimension"] == "daily_spend" and daily["period_start"] == today
    assert (daily["level"], daily["id"], daily["limit"]) == ("key", tenant.key_id, "5.00")
    assert daily["used"] == format_amount(spent)
    assert daily["remaining"] == format_amount(parse_amount("5") - spent)
    assert monthly["dimension"] == "monthly_spend" and monthly["period_start"] == month
    assert (monthly["level"], monthly["id"], monthly["limit"]) == ("org", tenant.org_id, "50.00")
    assert monthly["used"] == format_amount(spent)
    assert answer["rate_limits"] == [
        {"dimension": "rpm", "level": "key", "id": tenant.key_id, "limit": 100}
    ]


async def test_a_key_sees_only_its_own_organization(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    other = await make_tenant(backend.engine, balance="7.25")
    async with openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
    ) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "spend a little"}]
        )
    await recorded_events(backend, tenant, 1)

    status, answer = await my_balance(gateway, other.secret)

    assert status == 200
    assert answer["organization_id"] == other.org_id and answer["balance"] == "7.25"
    nothing = {"day": "0.00", "month": "0.00"}
    assert answer["spent"] == {"key": nothing, "organization": nothing}
    assert answer["quotas"] == answer["rate_limits"] == []


async def test_a_revoked_or_missing_key_is_refused(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    assert (await my_balance(gateway, tenant.secret))[0] == 200
    async with backend.engine.begin() as conn:
        await accounts.revoke_key(conn, tenant.key_id)
    for _ in range(100):
        status, answer = await my_balance(gateway, tenant.secret)
        if status != 200:
            break
        await asyncio.sleep(0.05)
    assert status == 401
    assert answer["error"]["type"] == "authentication_error"
    async with (
        aiohttp.ClientSession() as session,
        session.get(gateway.url + "/v1/me/balance") as response,
    ):
        assert response.status == 401
        assert "error" in await response.json()
