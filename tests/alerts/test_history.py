"""A rule's channels and firing history, end to end on real rollups, a real SMTP server and
a webhook receiver on loopback: a rule that fires, keeps firing and resolves writes one
history row with both times and notifies once, by its channels alone (here email and a
webhook, not the inbox), each delivery's outcome in the history; the API pages it newest
first, the command line prints it, another organization finds nothing, and retention
forgets a firing past the organization's window."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from click.testing import CliRunner
from sqlalchemy import select

from aisonar.accounts.plans import set_org_retention
from aisonar.alerts.evaluation import evaluate_alerts, evaluate_rule
from aisonar.alerts.history import forget_before
from aisonar.alerts.models import AlertKind, RuleSettings
from aisonar.alerts.services import create_rule, get_rule
from aisonar.analytics.page_views import delete_views_before
from aisonar.cli import main
from aisonar.clock import utcnow
from aisonar.store.roles import Role
from aisonar.store.tables import alert_firings
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.retention import RetentionPolicy, run_retention
from tests.alerts.traffic import alert_notices, requests, this_minute
from tests.api.people import Api, make_org
from tests.console.forms import fetch, http_session, submit
from tests.console.people import console_person, sign_in_over_http
from tests.mailbox import Mailbox
from tests.notify.receiver import webhook_receiver
from tests.support import Backend, cli_environment

_WAIT_S = 10.0


async def delivered(admin: Api, path: str, count: int) -> list[dict[str, Any]]:
    """The history once its notices' `count` deliveries have all been delivered."""
    deadline = asyncio.get_running_loop().time() + _WAIT_S
    while True:
        history: list[dict[str, Any]] = (await admin.get(path)).body
        told = [told for firing in history for told in firing["notified"]]
        if len(told) == count and all(t["status"] == "delivered" for t in told):
            return history
        assert asyncio.get_running_loop().time() < deadline, history
        await asyncio.sleep(0.05)


async def test_a_firing_notifies_once_by_its_channels_and_resolves_into_one_history_row(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org, other = await make_org(backend.engine), await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    body = {"kind": "cost", "threshold": "0.01", "name": "spend", "channels": ["webhook", "email"]}
    created = await admin.post(f"/api/orgs/{org.id}/alerts", body)
    assert created.status == 201, created.body
    assert created.body["channels"] == ["email", "webhook"]
    rule_id = created.body["id"]
    path = f"/api/alerts/{rule_id}/history"
    now = this_minute()
    async with webhook_receiver() as receiver:
        hook = {"url": receiver.url, "kinds": ["alert_firing", "alert_resolved"]}
        assert (await admin.post(f"/api/orgs/{org.id}/webhooks", hook)).status == 201
        await requests(backend, org.id, now - timedelta(minutes=5), 20)
        await evaluate_alerts(backend.engine, now)
        # Still firing a minute and two minutes on: no second notice, no second row.
        await evaluate_alerts(backend.engine, now + timedelta(minutes=1))
        await evaluate_alerts(backend.engine, now + timedelta(minutes=2))
        [firing] = await delivered(admin, path, 2)
        assert datetime.fromisoformat(firing["fired_at"]) == now
        assert (firing["observed"], firing["threshold"]) == ("0.02", "0.01")
        assert (firing["resolved_at"], firing["resolved_observed"]) == (None, None)
        assert firing["channels"] == ["email", "webhook"]
        assert sorted((t["notice"], t["channel"], t["to"]) for t in firing["notified"]) == [
            ("fired", "email", org.admin.email),
            ("fired", "webhook", receiver.url),
        ]
        await mailbox.wait_for_subject(org.admin.email, "Alert firing: spend")
        # Not the inbox: the rule left it out.
        inbox = (await admin.get("/api/me/notices")).body
        assert not [n for n in inbox if n["kind"].startswith("alert_")]

        resolved_at = now + timedelta(minutes=16)
        await evaluate_alerts(backend.engine, resolved_at)
        await evaluate_alerts(backend.engine, resolved_at + timedelta(minutes=1))
        [firing] = await delivered(admin, path, 4)
        await receiver.wait_for(2)
    assert [n.kind for n in await alert_notices(backend, org.id)] == [
        "alert_firing",
        "alert_resolved",
    ]
    assert datetime.fromisoformat(firing["fired_at"]) == now
    assert datetime.fromisoformat(firing["resolved_at"]) == resolved_at
    assert firing["resolved_observed"] == "0.00"
    assert sorted((t["notice"], t["channel"]) for t in firing["notified"]) == [
        ("fired", "email"),
        ("fired", "webhook"),
        ("resolved", "email"),
        ("resolved", "webhook"),
    ]
    await mailbox.wait_for_subject(org.admin.email, "Alert resolved: spend")

    printed = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["alert", "history", "--rule", rule_id, "--json"],
        env=cli_environment(backend),
    )
    assert printed.exit_code == 0, printed.output
    [line] = json.loads(printed.stdout)
    assert (line["id"], line["observed"], line["resolved_observed"]) == (
        firing["id"],
        "0.02",
        "0.00",
    )
    assert len(line["notified"]) == 4
    table = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["alert", "history", "--org", org.name],
        env=cli_environment(backend),
    )
    assert f"fired email {org.admin.email} delivered" in table.stdout

    # Members may not read it; another organization's admin finds nothing.
    assert (await Api(gateway.url, org.member.token).get(path)).status == 403
    stranger = await Api(gateway.url, other.admin.token).get(path)
    assert stranger.status == 404 and rule_id in stranger.body["error"]["message"]


async def test_the_history_pages_newest_first(gateway: RunningGateway, backend: Backend) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    rule = (
        await admin.post(
            f"/api/orgs/{org.id}/alerts",
            {"kind": "balance", "threshold": "5", "channels": ["inbox"]},
        )
    ).body
    start = this_minute()
    # A new organization's balance is 0: it fires; turning it off resolves it without a
    # notice, turning it on lets it fire again.
    for round_ in range(3):
        await evaluate_alerts(backend.engine, start + timedelta(minutes=round_))
        for enabled in (False, True):
            path = f"/api/alerts/{rule['id']}"
            assert (await admin.call("PATCH", path, {"enabled": enabled})).status == 200
    headers = {"Authorization": f"Bearer {org.admin.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(f"{gateway.url}/api/alerts/{rule['id']}/history?limit=2") as answer:
            first, link = await answer.json(), answer.headers["Link"]
        older = link[link.index("<") + 1 : link.index(">")]
        async with http.get(gateway.url + older) as answer:
            second = await answer.json()
    assert len(first) == 2 and len(second) == 1
    assert all(firing["resolved_at"] is not None for firing in first + second)
    # Inbox only: nothing is delivered.
    assert all(firing["notified"] == [] for firing in first + second)
    ids = [firing["id"] for firing in first + second]
    assert ids == sorted(ids, reverse=True)
    fired = [datetime.fromisoformat(firing["fired_at"]) for firing in first + second]
    assert fired == [start + timedelta(minutes=m) for m in (2, 1, 0)]
    assert (await admin.get(f"/api/alerts/{rule['id']}/history?before_id=-1")).status == 400


async def test_channels_are_checked(gateway: RunningGateway, backend: Backend) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    for channels in ([], ["sms"]):
        body = {"kind": "cost", "threshold": "1", "channels": channels}
        answer = await admin.post(f"/api/orgs/{org.id}/alerts", body)
        assert answer.status == 400 and "channels" in str(answer.body), answer.body
    rule = (await admin.post(f"/api/orgs/{org.id}/alerts", {"kind": "cost", "threshold": "1"})).body
    assert rule["channels"] == ["email", "inbox", "webhook"]
    path = f"/api/alerts/{rule['id']}"
    changes: list[dict[str, Any]] = [
        {"channels": None},
        {"channels": []},
        {"channels": ["inbox", "pager"]},
    ]
    for change in changes:
        assert (await admin.call("PATCH", path, change)).status == 400
    changed = await admin.call("PATCH", path, {"channels": ["inbox", "inbox"]})
    assert changed.body["channels"] == ["inbox"]


async def test_retention_forgets_firings_past_the_organizations_window(
    backend: Backend,
) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        await set_org_retention(conn, org.id, 30)
        old = await create_rule(conn, org.id, RuleSettings(AlertKind.BALANCE, "5"))
        recent = await create_rule(conn, org.id, RuleSettings(AlertKind.BALANCE, "5"))
    now = utcnow()
    assert await evaluate_rule(backend.engine, old, now - timedelta(days=31))
    assert await evaluate_rule(backend.engine, recent, now)
    policy = RetentionPolicy(minute_rollup_days=36500, rollup_days=36500, batch_size=100, pause_s=0)
    report = await run_retention(
        backend.engine,
        now,
        policy,
        forget_site_views=delete_views_before,
        forget_alert_history=forget_before,
    )
    assert report.alert_firings_deleted >= 1
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(alert_firings.c.rule_id).where(alert_firings.c.org_id == org.id)
        )
        assert [row.rule_id for row in rows] == [recent.id]


async def test_the_command_line_sets_channels(backend: Backend) -> None:
    org = await make_org(backend.engine)

    async def alert(*args: str) -> Any:
        return await asyncio.to_thread(
            CliRunner().invoke, main, ["alert", *args], env=cli_environment(backend)
        )

    create = ("create", org.name, "--kind", "cost", "--threshold", "1")
    refused = await alert(*create, "--channels", "inbox,sms")
    assert refused.exit_code == 1 and "channels are one or more of" in refused.output
    made = await alert(*create, "--channels", "webhook, email", "--json")
    assert made.exit_code == 0, made.output
    rule = json.loads(made.stdout)
    assert rule["channels"] == ["email", "webhook"]
    changed = await alert("update", rule["id"], "--channels", "inbox", "--json")
    assert json.loads(changed.stdout)["channels"] == ["inbox"]
    missing = await alert("history", "--rule", "alr_missing")
    assert missing.exit_code == 1 and "alr_missing" in missing.output


async def test_the_rule_page_shows_its_history_and_changes_its_channels(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)  # 100 credits
    stranger = await console_person(backend.engine, role=Role.ORG_ADMIN)
    async with backend.engine.begin() as conn:
        rule = await create_rule(conn, admin.org_id, RuleSettings(AlertKind.BALANCE, "500"))
    now = this_minute()
    assert await evaluate_rule(backend.engine, rule, now)
    page = f"/console/orgs/{admin.org_id}/alerts/{rule.id}"
    channels = f"{page}/channels"
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, gateway.url + page)
        assert status == 200 and 'id="history-table"' in html
        assert "still firing" in html and "100.00" in html and "500.00" in html
        status, _, html = await submit(http, gateway.url, page, channels, {})
        assert status == 400 and "channels are one or more of" in html
        status, target, _ = await submit(http, gateway.url, page, channels, {"channels": "email"})
        assert (status, target) == (303, page)
    async with backend.engine.connect() as conn:
        assert (await get_rule(conn, rule.id)).channels == ("email",)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, stranger.email)
        assert (await fetch(http, gateway.url + page))[0] == 404
