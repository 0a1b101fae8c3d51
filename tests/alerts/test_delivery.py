"""Each kind of rule on real rollups (or the balance), end to end: an org admin creates
it through the API; the evaluation that finds its condition true raises `alert_firing`,
which reaches the admins' inbox, their mailbox and the organization's webhook endpoint
(not its members); the next evaluations while it holds raise nothing; the one that finds
it cleared raises `alert_resolved`, delivered alike."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import pytest

from aisonar.alerts.evaluation import evaluate_alerts
from aisonar.billing import ledger
from aisonar.billing.ledger import LedgerKind, NewEntry
from aisonar.testing.gateway_server import RunningGateway
from tests.alerts.traffic import alert_notices, requests, this_minute
from tests.api.people import Api, Org, make_org
from tests.mailbox import Mailbox, bodies
from tests.notify.receiver import webhook_receiver
from tests.support import Backend

RULES: dict[str, dict[str, Any]] = {
    "cost": {"kind": "cost", "threshold": "0.01"},
    "error_rate": {"kind": "error_rate", "threshold": "10%", "window": "30m"},
    "latency": {"kind": "latency", "threshold": "1000", "percentile": "p95"},
    "ttft": {"kind": "ttft", "threshold": "500", "percentile": "p90", "window": "1h"},
    "balance": {"kind": "balance", "threshold": "5"},
}


async def breach(kind: str, backend: Backend, org: Org, now: datetime) -> None:
    """Make the rule's condition true (a new organization's balance is 0 already)."""
    at = now - timedelta(minutes=5)
    if kind == "cost":  # 20 x 0.001 credits
        await requests(backend, org.id, at, 20)
    elif kind == "error_rate":  # 20 of 30 failed
        await requests(backend, org.id, at, 20, status_code=500)
        await requests(backend, org.id, at, 10)
    elif kind == "latency":
        await requests(backend, org.id, at, 25, latency_ms=3000)
    elif kind == "ttft":
        await requests(backend, org.id, at, 25, ttft_ms=2000, latency_ms=3000)


async def clear(kind: str, backend: Backend, org: Org, now: datetime) -> datetime:
    """Make it false again; returns when to evaluate."""
    at = now + timedelta(minutes=2)
    if kind == "cost":  # the spend leaves the 15-minute window
        return now + timedelta(minutes=16)
    if kind == "error_rate":  # 20 of 330 failed
        await requests(backend, org.id, at, 300)
    elif kind == "latency":
        await requests(backend, org.id, at, 500, latency_ms=100)
    elif kind == "ttft":
        await requests(backend, org.id, at, 500, ttft_ms=50, latency_ms=300)
    elif kind == "balance":
        async with backend.engine.begin() as conn:
            entry = NewEntry(LedgerKind.RECHARGE, 10_000_000, "test", "top-up")
            await ledger.credit(conn, org.id, entry)
    return at


def assert_fired(kind: str, data: dict[str, Any]) -> None:
    expected = {
        "cost": ("0.02", "0.01", "15m", 20),
        "error_rate": ("0.666666", "0.1", "30m", 30),
        "latency": (None, "1000", "15m", 25),
        "ttft": (None, "500", "1h", 25),
        "balance": ("0.00", "5.00", None, None),
    }[kind]
    observed, threshold, window, volume = expected
    assert (data["threshold"], data["window"], data["requests"]) == (threshold, window, volume)
    if observed is None:  # a percentile read from the histogram: near 3000 or 2000 ms
        assert float(data["observed"]) > 1500
    else:
        assert data["observed"] == observed


@pytest.mark.parametrize("kind", list(RULES))
async def test_a_rule_fires_once_reaches_the_admins_and_resolves(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox, kind: str
) -> None:
    org = await make_org(backend.engine)
    admin, member = Api(gateway.url, org.admin.token), Api(gateway.url, org.member.token)
    name = f"{kind} watch {secrets.token_hex(3)}"
    created = await admin.post(f"/api/orgs/{org.id}/alerts", {**RULES[kind], "name": name})
    assert created.status == 201, created.body
    rule_id = created.body["id"]
    now = this_minute()
    async with webhook_receiver() as receiver:
        hook = {"url": receiver.url, "kinds": ["alert_firing", "alert_resolved"]}
        assert (await admin.post(f"/api/orgs/{org.id}/webhooks", hook)).status == 201
        if kind != "balance":  # (a new organization's balance is below it at once)
            await evaluate_alerts(backend.engine, now)
            assert await alert_notices(backend, org.id) == []
        await breach(kind, backend, org, now)
        await evaluate_alerts(backend.engine, now)
        # Again, a minute later: still firing, nothing new.
        await evaluate_alerts(backend.engine, now + timedelta(minutes=1))
        fired = await alert_notices(backend, org.id)
        assert [n.kind for n in fired] == ["alert_firing"]
        assert fired[0].user_id is None and fired[0].data["rule_id"] == rule_id
        assert fired[0].data["name"] == name and fired[0].data["kind"] == kind
        assert_fired(kind, fired[0].data)
        rule = (await admin.get(f"/api/alerts/{rule_id}")).body
        assert rule["state"] == "firing"
        assert datetime.fromisoformat(rule["state_changed_at"]) == now

        inbox = (await admin.get("/api/me/notices")).body
        assert [n["data"]["rule_id"] for n in inbox if n["kind"] == "alert_firing"] == [rule_id]
        message = await mailbox.wait_for_subject(org.admin.email, f"Alert firing: {name}")
        text, html = bodies(message)
        assert ("below" if kind == "balance" else "above") + " the alert's threshold" in text
        assert name in html
        (posted,) = await receiver.wait_for(1)
        payload = json.loads(posted.body)
        assert payload["type"] == "alert_firing"
        assert payload["data"]["organization_id"] == org.id
        assert payload["data"]["details"] == fired[0].data
        # Members hear nothing of it.
        assert not [n for n in (await member.get("/api/me/notices")).body if "alert" in n["kind"]]

        resolved_at = await clear(kind, backend, org, now)
        await evaluate_alerts(backend.engine, resolved_at)
        await evaluate_alerts(backend.engine, resolved_at + timedelta(minutes=1))
        notices = await alert_notices(backend, org.id)
        assert [n.kind for n in notices] == ["alert_firing", "alert_resolved"]
        assert notices[1].data["threshold"] == fired[0].data["threshold"]
        rule = (await admin.get(f"/api/alerts/{rule_id}")).body
        assert rule["state"] == "ok"
        assert datetime.fromisoformat(rule["state_changed_at"]) == resolved_at
        await mailbox.wait_for_subject(org.admin.email, f"Alert resolved: {name}")
        assert json.loads((await receiver.wait_for(2))[1].body)["type"] == "alert_resolved"
    subjects = [m["Subject"] for m in mailbox.messages_to(org.member.email)]
    assert not [s for s in subjects if "Alert" in s]
