"""Alert rules through the management API: an org admin creates, reads, changes and
deletes their organization's (audited), with defaults filled in and bad input refused
with a clear message and nothing changed; members may not; other organizations' admins
cannot even see them; operators manage any."""

from __future__ import annotations

from typing import Any

import pytest

from aisonar.audit.services import list_entries
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_operator, make_org
from tests.support import Backend


async def test_an_org_admin_manages_rules_with_defaults_and_an_audit_trail(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    created = await admin.post(
        f"/api/orgs/{org.id}/alerts", {"kind": "latency", "threshold": "2000", "model": "gpt-4o"}
    )
    assert created.status == 201, created.body
    rule = created.body
    assert {k: rule[k] for k in ("kind", "threshold", "window", "percentile", "min_requests")} == {
        "kind": "latency",
        "threshold": "2000",
        "window": "15m",
        "percentile": "p95",
        "min_requests": 20,
    }
    assert (rule["model"], rule["source"], rule["enabled"], rule["state"]) == (
        "gpt-4o",
        None,
        True,
        "ok",
    )
    cost = await admin.post(
        f"/api/orgs/{org.id}/alerts",
        {"kind": "cost", "threshold": "12.5", "window": "120m", "name": " Daily spend "},
    )
    assert (cost.body["threshold"], cost.body["window"], cost.body["name"]) == (
        "12.50",
        "2h",
        "Daily spend",
    )
    assert (cost.body["percentile"], cost.body["min_requests"]) == (None, None)
    listed = (await admin.get(f"/api/orgs/{org.id}/alerts")).body
    assert [r["id"] for r in listed] == [rule["id"], cost.body["id"]]

    path = f"/api/alerts/{rule['id']}"
    changed = await admin.call(
        "PATCH", path, {"threshold": "1500", "window": "1h", "model": None, "enabled": False}
    )
    assert changed.status == 200, changed.body
    assert (changed.body["threshold"], changed.body["window"]) == ("1500", "1h")
    assert (changed.body["model"], changed.body["enabled"]) == (None, False)
    assert (await admin.get(path)).body == changed.body
    assert (await admin.delete(path)).status == 200
    assert (await admin.get(path)).status == 404

    async with backend.engine.connect() as conn:
        entries = [
            e for e in await list_entries(conn, org_id=org.id) if e.action.startswith("alert.")
        ]
    assert [e.action for e in reversed(entries)] == [
        "alert.create",
        "alert.create",
        "alert.update",
        "alert.delete",
    ]
    update = entries[1]
    assert update.actor == org.admin.email and update.object_id == rule["id"]
    assert update.changes == {
        "enabled": [True, False],
        "model": ["gpt-4o", None],
        "threshold": ["2000", "1500"],
        "window": ["15m", "1h"],
    }


BAD: list[tuple[dict[str, Any], str]] = [
    ({"kind": "cost", "threshold": "0"}, "greater than zero"),
    ({"kind": "cost", "threshold": "-3"}, "greater than zero"),
    ({"kind": "cost", "threshold": "lots"}, "not a decimal number"),
    ({"kind": "cost", "threshold": "1e30"}, "too large"),
    ({"kind": "cost", "threshold": "1", "window": "30s"}, "such as 15m"),
    ({"kind": "cost", "threshold": "1", "window": "0m"}, "1 minute to 7 days"),
    ({"kind": "cost", "threshold": "1", "window": "8d"}, "1 minute to 7 days"),
    ({"kind": "cost", "threshold": "1", "window": "400m"}, "whole hours"),
    ({"kind": "cost", "threshold": "1", "percentile": "p95"}, "percentile applies to"),
    ({"kind": "cost", "threshold": "1", "min_requests": 5}, "min_requests applies to"),
    ({"kind": "error_rate", "threshold": "1.5"}, "between 0 and 1"),
    ({"kind": "error_rate", "threshold": "100%"}, "between 0 and 1"),
    ({"kind": "error_rate", "threshold": "0.05", "min_requests": 0}, "min_requests"),
    ({"kind": "latency", "threshold": "12.5"}, "whole milliseconds"),
    ({"kind": "latency", "threshold": "900", "percentile": "p42"}, "percentile"),
    ({"kind": "balance", "threshold": "5", "window": "1h"}, "window applies to"),
    ({"kind": "balance", "threshold": "5", "model": "gpt-4o"}, "model applies to"),
    ({"kind": "cost", "threshold": "1", "model": "gpt\n4o"}, "control characters"),
    ({"kind": "cost", "threshold": "1", "source": "carrier-pigeon"}, "source"),
    ({"kind": "uptime", "threshold": "1"}, "kind"),
    ({"kind": "cost", "threshold": "1", "severity": "high"}, "severity"),
]


@pytest.mark.parametrize(("body", "says"), BAD)
async def test_bad_rules_are_refused_with_a_clear_message_and_nothing_changes(
    gateway: RunningGateway, backend: Backend, body: dict[str, Any], says: str
) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    answer = await admin.post(f"/api/orgs/{org.id}/alerts", body)
    assert answer.status == 400, answer.body
    assert says in answer.body["error"]["message"], answer.body
    assert (await admin.get(f"/api/orgs/{org.id}/alerts")).body == []


async def test_a_bad_change_is_refused_and_the_rule_stays_as_it_was(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    rule = (await admin.post(f"/api/orgs/{org.id}/alerts", {"kind": "cost", "threshold": "3"})).body
    path = f"/api/alerts/{rule['id']}"
    for change, says in (
        ({"threshold": "0", "name": "renamed"}, "greater than zero"),
        ({"threshold": None}, "threshold cannot be null"),
        ({"percentile": "p99"}, "percentile applies to"),
        ({"kind": "balance"}, "kind"),
    ):
        answer = await admin.call("PATCH", path, change)
        assert answer.status == 400 and says in answer.body["error"]["message"], answer.body
    assert (await admin.get(path)).body == rule
    async with backend.engine.connect() as conn:
        actions = [e.action for e in await list_entries(conn, org_id=org.id)]
    assert "alert.update" not in actions


async def test_members_may_not_and_other_organizations_cannot_see_them(
    gateway: RunningGateway, backend: Backend
) -> None:
    org, other = await make_org(backend.engine), await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    rule = (await admin.post(f"/api/orgs/{org.id}/alerts", {"kind": "cost", "threshold": "3"})).body
    path = f"/api/alerts/{rule['id']}"
    member = Api(gateway.url, org.member.token)
    assert (await member.get(f"/api/orgs/{org.id}/alerts")).status == 403
    assert (await member.get(path)).status == 403
    assert (await member.delete(path)).status == 403
    stranger = Api(gateway.url, other.admin.token)
    for method, target, body in (
        ("GET", f"/api/orgs/{org.id}/alerts", None),
        ("POST", f"/api/orgs/{org.id}/alerts", {"kind": "cost", "threshold": "1"}),
        ("GET", path, None),
        ("PATCH", path, {"threshold": "99"}),
        ("DELETE", path, None),
    ):
        answer = await stranger.call(method, target, body)
        assert answer.status == 404, (method, target, answer.body)
        assert org.id not in str(answer.body) or org.id in target
    assert (await admin.get(f"/api/orgs/{org.id}/alerts")).body == [rule]
    assert (await stranger.get(f"/api/orgs/{other.id}/alerts")).body == []

    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    assert (await operator.call("PATCH", path, {"threshold": "4"})).body["threshold"] == "4.00"
    created = await operator.post(
        f"/api/orgs/{other.id}/alerts", {"kind": "balance", "threshold": "1"}
    )
    assert created.status == 201 and created.body["org_id"] == other.id
