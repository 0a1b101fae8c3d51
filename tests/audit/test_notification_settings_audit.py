"""Changes of notification settings are audited with what changed (the language, and
each `<kind>.<channel>` switch, before and after); a change that changes nothing, or
is refused, leaves no entry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from aisonar.store.tables import audit_log
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_org
from tests.support import Backend

PATH = "/api/me/notification-settings"


async def settings_entries(backend: Backend, user_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(audit_log).where(
            audit_log.c.object_id == user_id,
            audit_log.c.action == "notification_settings.update",
        )
        return list(await conn.execute(query.order_by(audit_log.c.id)))


async def test_a_change_is_recorded_with_the_switches_it_flipped(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    changed = await api.call(
        "PATCH",
        PATH,
        {
            "language": "zh-Hans",
            # inbox stays on: touched, not changed, so not in the entry.
            "kinds": {"balance_low": {"email": False, "inbox": True}, "plan_changed": {}},
        },
    )
    assert changed.status == 200
    [entry] = await settings_entries(backend, org.member.user_id)
    assert (entry.actor, entry.actor_user_id, entry.ip) == (
        org.member.email,
        org.member.user_id,
        "127.0.0.1",
    )
    assert (entry.object_kind, entry.org_id) == ("user", org.id)
    assert entry.changes == {"balance_low.email": [True, False], "language": ["en", "zh-Hans"]}

    await api.call(
        "PATCH",
        PATH,
        {"kinds": {"balance_low": {"email": True}, "recharge_received": {"webhook": False}}},
    )
    latest = (await settings_entries(backend, org.member.user_id))[-1]
    assert latest.changes == {
        "balance_low.email": [False, True],
        "recharge_received.webhook": [True, False],
    }
    # Org admins read it in their organization's log.
    readable = (await Api(gateway.url, org.admin.token).get("/api/audit")).body
    assert latest.id in {e["id"] for e in readable if e["action"] == latest.action}


async def test_nothing_changed_or_refused_leaves_no_entry(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    for unchanged in (
        {},
        {"language": "en"},
        {"kinds": {"balance_low": {"email": True, "webhook": True}}},
        # Security notices always go out: asking for them on again is no change.
        {"language": "en", "kinds": {"key_revoked": {"email": True}}},
    ):
        assert (await api.call("PATCH", PATH, unchanged)).status == 200, unchanged
    for refused in (
        {"language": "zh-Hans", "kinds": {"key_revoked": {"email": False}}},
        {"language": "zh-Hans", "kinds": {"no_such_notice": {"inbox": False}}},
        {"language": "klingon"},
    ):
        assert (await api.call("PATCH", PATH, refused)).status == 400, refused
    assert (await api.get(PATH)).body["language"] == "en"
    assert await settings_entries(backend, org.member.user_id) == []
