"""`GET /v1/me/balance`: what an API key may know of its own standing, as OpenRouter's key
endpoint tells it: its organization's balance (and what requests in flight hold of it),
what the key and its organization spent today and this month, and every limit that
applies to the key, each spend quota with what is used of its period. Money is decimal
strings of the operator's currency; spend is that of the gateway's recorded requests
(usage events), as spend quotas count it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.money import format_amount
from aisonar.billing.standing import current_balance
from aisonar.clock import utcnow
from aisonar.gateway.http import Exchange
from aisonar.gateway.pipeline import authenticate_exchange
from aisonar.gateway.services import GatewayServices
from aisonar.limits.models import SPEND_DIMENSIONS, Subject, SubjectKind
from aisonar.limits.spend import PERIODS, Period, day_of, month_of
from aisonar.limits.spent import spent_in_period


class _Spending:
    """What subjects spent in periods, each asked of the database once."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._known: dict[tuple[Subject, Period], int] = {}

    async def of(self, subject: Subject, period: Period) -> int:
        known = self._known.get((subject, period))
        if known is None:
            known = self._known[subject, period] = await spent_in_period(
                self._conn, subject, period
            )
        return known

    async def day_and_month(self, subject: Subject, now: datetime) -> dict[str, str]:
        day, month = await self.of(subject, day_of(now)), await self.of(subject, month_of(now))
        return {"day": format_amount(day), "month": format_amount(month)}


def _moment(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


async def _limits(
    identity: KeyIdentity, spending: _Spending, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The key's spend quotas, with what is used of each one's period, and its rate limits."""
    quotas: list[dict[str, Any]] = []
    rates: list[dict[str, Any]] = []
    for dimension, limit, level in identity.limits.entries():
        applied = {"dimension": dimension, "level": str(level.source.kind), "id": level.source.id}
        if dimension not in SPEND_DIMENSIONS:
            rates.append({**applied, "limit": limit})
            continue
        period = PERIODS[dimension](now)
        used = await spending.of(level.counted, period)
        quotas.append(
            {
                **applied,
                "limit": format_amount(limit),
                "used": format_amount(used),
                "remaining": format_amount(max(limit - used, 0)),
                "period_start": _moment(period.start),
                "resets_at": _moment(period.end),
            }
        )
    return quotas, rates


async def key_balance(services: GatewayServices, exchange: Exchange) -> None:
    identity = await authenticate_exchange(services, exchange)
    billing = services.billing
    balance = await current_balance(services.engine, billing.store, identity.org_id)
    now = utcnow()
    async with services.engine.connect() as conn:
        spending = _Spending(conn)
        key = await spending.day_and_month(Subject(SubjectKind.KEY, identity.key_id), now)
        org = await spending.day_and_month(Subject(SubjectKind.ORG, identity.org_id), now)
        quotas, rates = await _limits(identity, spending, now)
    answer = {
        "object": "balance",
        "organization_id": identity.org_id,
        "key_id": identity.key_id,
        "currency": billing.currency,
        "balance": format_amount(balance.balance),
        "held": format_amount(balance.held),
        "available": format_amount(balance.available),
        "spent": {"key": key, "organization": org},
        "quotas": quotas,
        "rate_limits": rates,
    }
    await exchange.respond(200, orjson.dumps(answer))
