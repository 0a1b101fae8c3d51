"""The dashboard: the organization's balance, the person's spend today and this month,
their cost per day over 30 days, requests and tokens by model, latency percentiles and
error rate; read from the rollups with the same functions as `/api/analytics/usage` and
`/api/me/balance`, scoped as they scope them (hours and days up to compaction's
watermark, the minutes after it: a request counts as soon as the writer has written it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Response

from aisonar.analytics.services import Filters, GroupBy, Summary, summarize, window
from aisonar.billing.services import format_amount
from aisonar.console.render import page
from aisonar.console.routing import HOME_PATH, console_router
from aisonar.console.visit import Member
from aisonar.web.analytics_scope import scoped
from aisonar.web.balances import balance_of
from aisonar.web.deps import Config, Services

router = console_router()

_DAYS = 30
_TOP_MODELS = 20


@dataclass(frozen=True)
class DayCost:
    day: str
    cost: str
    requests: int


def daily_costs(series: list[Summary], since: datetime, days: int) -> list[DayCost]:
    """Every day of the range, the days without usage at zero."""
    by_day = {datetime.fromisoformat(found.group).date(): found for found in series}
    costs = []
    for offset in range(days):
        day = (since + timedelta(days=offset)).date()
        found = by_day.get(day)
        costs.append(
            DayCost(
                day.isoformat(),
                format_amount(found.cost_units if found else 0),
                found.requests if found else 0,
            )
        )
    return costs


def answered(models: list[Summary]) -> tuple[list[Summary], int]:
    """The models that answered any request, and the count of requests that no model
    answered (a made-up or refused model name, every attempt failed): those are refusals,
    shown together, not as models of their own."""
    shown = [found for found in models if found.errors < found.requests or found.cost_units]
    return shown, sum(found.requests for found in models if found not in shown)


def _chart_data(costs: list[DayCost], models: list[Summary]) -> dict[str, Any]:
    return {
        "cost": {
            "labels": [day.day for day in costs],
            "values": [day.cost for day in costs],
        },
        "models": {
            "labels": [found.group for found in models],
            "requests": [found.requests for found in models],
            "tokens": [found.input_tokens + found.output_tokens for found in models],
            "cost": [found.cost for found in models],
        },
    }


@router.get(HOME_PATH)
async def dashboard(member: Member, running: Services, settings: Config) -> Response:
    person = member.principal
    org_id, user_id = scoped(person, None, person.user_id)
    since, until = window(None, None)
    today = until - timedelta(days=1)
    month_start = today.replace(day=1)

    def mine(start: datetime) -> Filters:
        return Filters(since=start, until=until, org_id=org_id, user_id=user_id)

    async with running.engine.connect() as conn:
        spent_today = (await summarize(conn, mine(today), GroupBy.TOTAL))[0]
        spent_this_month = (await summarize(conn, mine(month_start), GroupBy.TOTAL))[0]
        last_30_days = (await summarize(conn, mine(since), GroupBy.TOTAL))[0]
        series = await summarize(conn, mine(since), GroupBy.DAY, limit=_DAYS)
        models, refused = answered(
            await summarize(conn, mine(since), GroupBy.MODEL, limit=_TOP_MODELS)
        )
    balance = await balance_of(running.engine, running.billing.store, person.org_id)
    costs = daily_costs(series, since, _DAYS)
    context = {
        "balance": balance,
        "currency": settings.currency,
        "today": spent_today,
        "month": spent_this_month,
        "total": last_30_days,
        "costs": costs,
        "models": models,
        "refused": refused,
        "charts": _chart_data(costs, models),
    }
    return page(member, "dashboard.html", context)
