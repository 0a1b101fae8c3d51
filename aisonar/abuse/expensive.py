"""First use of an expensive model: a key that, within the last ten minutes, called a
model it had not called in the thirty days before, whose output is priced at or above
`AISONAR_ABUSE_EXPENSIVE_OUTPUT_PRICE` credits per million tokens (the operator's price,
else the catalogue's). A stolen key is often spent on the dearest model at once. The
window's pairs of key and model are read from the usage events (the key's index), then
each expensive one's month."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.abuse.models import FindingKind, Signal, SubjectKind
from aisonar.billing.services import billed_price, parse_amount
from aisonar.errors import NotFound
from aisonar.store.tables import usage_events

WINDOW = timedelta(minutes=10)
HISTORY = timedelta(days=30)


async def _output_price(conn: AsyncConnection, model: str, provider: str | None) -> int | None:
    """Micro-units per million output tokens; None when the model has no price."""
    try:
        price = await billed_price(conn, model, provider or "")
    except NotFound:
        return None
    return parse_amount(price.output, allow_zero=True)


async def _used_before(conn: AsyncConnection, key_id: str, model: str, until: datetime) -> bool:
    e = usage_events.c
    query = select(e.id).where(
        e.key_id == key_id,
        e.started_at >= until - HISTORY,
        e.started_at < until,
        e.requested_model == model,
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def first_expensive_uses(
    conn: AsyncConnection, now: datetime, floor_units: int
) -> list[Signal]:
    e = usage_events.c
    since = now - WINDOW
    rows = await conn.execute(
        select(e.key_id, e.org_id, e.user_id, e.requested_model, e.provider, func.count())
        .where(
            e.started_at >= since,
            e.started_at < now,
            e.key_id.is_not(None),
            e.requested_model.is_not(None),
        )
        .group_by(e.key_id, e.org_id, e.user_id, e.requested_model, e.provider)
    )
    prices: dict[tuple[str, str | None], int | None] = {}
    new: dict[tuple[str, str | None, str | None], list[dict[str, Any]]] = defaultdict(list)
    for key_id, org_id, user_id, model, provider, requests in rows:
        if (model, provider) not in prices:
            prices[(model, provider)] = await _output_price(conn, model, provider)
        price = prices[(model, provider)]
        if price is None or price < floor_units:
            continue
        if await _used_before(conn, key_id, model, since):
            continue
        new[(key_id, org_id, user_id)].append(
            {"model": model, "requests": int(requests), "output_price_units": price}
        )
    return [
        Signal(
            FindingKind.EXPENSIVE_MODEL,
            SubjectKind.KEY,
            key_id,
            {
                "models": sorted(one["model"] for one in models),
                "requests": sum(one["requests"] for one in models),
                "floor_units": floor_units,
                "window_minutes": int(WINDOW.total_seconds() // 60),
                "history_days": HISTORY.days,
            },
            window_start=now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0),
            org_id=org_id,
            user_id=user_id,
        )
        for (key_id, org_id, user_id), models in new.items()
    ]
