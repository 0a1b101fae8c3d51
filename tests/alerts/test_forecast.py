"""The forecast rule on real rollups and the real ledger: a balance that a fast burn spends
within the threshold's days fires (and resolves once topped up, its history closed), a
slow burn does not, an organization under an hour old has no forecast, and charges the
gateway did not make (reported usage) do not count. The console's overview shows the
same forecast beside the balance."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from aisonar.alerts.evaluation import evaluate_rule
from aisonar.alerts.history import firings
from aisonar.alerts.models import AlertKind, AlertRule, AlertState, RuleSettings
from aisonar.alerts.services import create_rule
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.store.roles import Role
from aisonar.store.tables import organizations
from aisonar.testing.gateway_server import RunningGateway
from tests.alerts.traffic import alert_notices, current, requests, this_minute
from tests.api.people import make_org
from tests.console.forms import fetch, http_session
from tests.console.people import console_person, sign_in_over_http
from tests.support import Backend


async def organization(backend: Backend, now: datetime, *, age: timedelta, balance: int) -> str:
    """A new organization made `age` old at `now`, holding `balance` micro-units."""
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(organizations).where(organizations.c.id == org.id).values(created_at=now - age)
        )
        await ledger.credit(conn, org.id, NewEntry(LedgerKind.RECHARGE, balance, "test", "top-up"))
    return org.id


async def forecast_rule(backend: Backend, org_id: str, days: str) -> AlertRule:
    async with backend.engine.begin() as conn:
        return await create_rule(conn, org_id, RuleSettings(AlertKind.FORECAST, days))


async def spend(backend: Backend, org_id: str, now: datetime, count: int, **changes: str) -> None:
    """`count` requests of 1,000 micro-units a day ago."""
    await requests(backend, org_id, now - timedelta(days=1), count, **changes)


async def test_a_fast_burn_fires_and_a_top_up_resolves_it(backend: Backend) -> None:
    now = this_minute()
    # Half a credit, two days old: 0.5 credits spent in two days leaves 2 days.
    org_id = await organization(backend, now, age=timedelta(days=2), balance=500_000)
    rule = await forecast_rule(backend, org_id, "3")
    assert (rule.window_s, rule.threshold) == (7 * 86400, 3)
    await spend(backend, org_id, now, 500)
    # Reported usage is not charged to the balance: it does not count.
    await spend(backend, org_id, now, 500, source="ingest")
    assert await evaluate_rule(backend.engine, rule, now)
    [fired] = await alert_notices(backend, org_id)
    assert (fired.kind, fired.data["observed"], fired.data["threshold"]) == (
        "alert_firing",
        "2.0",
        "3",
    )
    assert fired.data["window"] == "7d"

    async with backend.engine.begin() as conn:
        await ledger.credit(
            conn, org_id, NewEntry(LedgerKind.RECHARGE, 100_000_000, "test", "top-up")
        )
    later = now + timedelta(minutes=1)
    assert await evaluate_rule(backend.engine, await current(backend, rule.id), later)
    assert (await current(backend, rule.id)).state is AlertState.OK
    async with backend.engine.connect() as conn:
        [firing] = await firings(conn, rule_id=rule.id)
    assert (firing.fired_at, firing.resolved_at) == (now, later)
    # 100.5 credits at 0.5 credits over two days and a minute.
    assert (firing.observed, firing.threshold, firing.resolved_observed) == ("2.0", "3", "402.1")


async def test_a_slow_burn_a_young_organization_and_no_spend_do_not_fire(
    backend: Backend,
) -> None:
    now = this_minute()
    slow = await organization(backend, now, age=timedelta(days=2), balance=500_000)
    await spend(backend, slow, now, 20)  # 50 days left
    idle = await organization(backend, now, age=timedelta(days=2), balance=0)
    # Spent everything within its first half hour: too young to tell a rate.
    young = await organization(backend, now, age=timedelta(minutes=30), balance=0)
    await requests(backend, young, now - timedelta(minutes=10), 500)
    for org_id in (slow, idle, young):
        rule = await forecast_rule(backend, org_id, "3")
        assert not await evaluate_rule(backend.engine, rule, now)
        assert (await current(backend, rule.id)).state is AlertState.OK
        assert await alert_notices(backend, org_id) == []


async def test_the_overview_shows_how_long_the_balance_lasts(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)  # 100 credits
    async with backend.engine.begin() as conn:
        await conn.execute(
            update(organizations)
            .where(organizations.c.id == admin.org_id)
            .values(created_at=this_minute() - timedelta(days=10))
        )
    page = f"{gateway.url}/console/orgs/{admin.org_id}"
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, page)
        assert status == 200 and "the balance does not run out" in html
        # 7 credits over the last 7 days: 1 a day.
        await spend(backend, admin.org_id, this_minute(), 7_000)
        status, html = await fetch(http, page)
    assert "the balance lasts about 100.0 days" in html
