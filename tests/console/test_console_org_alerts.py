"""An organization's alert rules in the console over plain HTTP: an org admin creates one
(bad input changes nothing and keeps what was typed), turns it off and deletes it after
confirming, each persisted and audited; markup in its name stays text."""

from __future__ import annotations

from aisonar.alerts import services as alerts
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import fetch, http_session
from tests.console.operators import audited
from tests.console.people import MARKUP, console_person, sign_in_over_http
from tests.console.test_console_org import org_page, submit
from tests.support import Backend


async def test_an_admin_creates_turns_off_and_deletes_an_alert_rule(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    page = org_page(admin, "alerts")
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        bad = {
            "name": "Typed",
            "kind": "cost",
            "threshold": "lots",
            "window": "1h",
            "channels": "inbox",
        }
        status, _, html = await submit(http, gateway.url, page, page, bad)
        assert status == 400 and 'value="lots"' in html and 'role="alert"' in html
        misplaced = {**bad, "kind": "balance", "threshold": "5"}
        status, _, html = await submit(http, gateway.url, page, page, misplaced)
        assert status == 400 and "window applies to" in html
        async with backend.engine.connect() as conn:
            assert await alerts.list_rules(conn, admin.org_id) == []

        fields = {
            "name": MARKUP,
            "kind": "latency",
            "threshold": "2000",
            "window": "30m",
            "percentile": "p99",
            "min_requests": "5",
            "model": "gpt-4o-mini",
            "source": "gateway",
            "enabled": "yes",
        }
        status, _, html = await submit(http, gateway.url, page, page, fields)
        assert status == 400 and "at least 1 item" in html, html
        fields["channels"] = "inbox"
        status, target, _ = await submit(http, gateway.url, page, page, fields)
        assert (status, target) == (303, page)
        async with backend.engine.connect() as conn:
            [rule] = await alerts.list_rules(conn, admin.org_id)
        assert (rule.name, rule.kind, rule.threshold, rule.window_s) == (
            MARKUP,
            "latency",
            2000,
            1800,
        )
        assert (rule.percentile, rule.min_requests, rule.model, rule.source) == (
            "p99",
            5,
            "gpt-4o-mini",
            "gateway",
        )
        assert rule.channels == ("inbox",)
        status, html = await fetch(http, gateway.url + page)
        assert "&lt;script&gt;" in html and MARKUP not in html and "ok since" in html

        switch = f"{page}/{rule.id}/enabled"
        status, target, _ = await submit(http, gateway.url, page, switch, {"enabled": "no"})
        assert (status, target) == (303, page)
        async with backend.engine.connect() as conn:
            assert not (await alerts.get_rule(conn, rule.id)).enabled

        confirm = f"{page}/{rule.id}/delete"
        status, html = await fetch(http, gateway.url + confirm)
        assert status == 200 and "&lt;script&gt;" in html
        status, target, _ = await submit(http, gateway.url, confirm, confirm, {})
        assert (status, target) == (303, page)
    async with backend.engine.connect() as conn:
        assert await alerts.list_rules(conn, admin.org_id) == []
    for action in ("alert.create", "alert.update", "alert.delete"):
        [record] = await audited(backend, action, rule.id)
        assert record.actor_user_id == admin.user_id
