"""Notification settings: a language, and which notices reach a person by which channel;
everything on by default; security notices cannot be turned off; bad input changes
nothing."""

from __future__ import annotations

from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_org
from tests.support import Backend

PATH = "/api/me/notification-settings"


async def test_a_person_chooses_a_language_and_channels_but_not_for_security_notices(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    initial = (await api.get(PATH)).body
    assert initial["language"] == "en"
    assert initial["kinds"]["balance_low"] == {"email": True, "webhook": True, "inbox": True}
    assert "password_changed" in initial["security_kinds"]
    changed = await api.call(
        "PATCH", PATH, {"language": "zh-Hans", "kinds": {"balance_low": {"email": False}}}
    )
    assert changed.status == 200 and changed.body["language"] == "zh-Hans"
    assert changed.body["kinds"]["balance_low"] == {"email": False, "webhook": True, "inbox": True}
    for bad in (
        {"language": "en", "kinds": {"key_revoked": {"email": False}}},
        {"kinds": {"no_such_notice": {"inbox": False}}},
        {"language": "klingon"},
        {"kinds": {"balance_low": {"carrier_pigeon": False}}},
    ):
        refused = await api.call("PATCH", PATH, bad)
        assert refused.status == 400, bad
    assert (await api.get(PATH)).body == changed.body
    back_on = await api.call("PATCH", PATH, {"kinds": {"balance_low": {"email": True}}})
    assert back_on.body["kinds"]["balance_low"]["email"] is True
    # Another person's settings are their own.
    assert (await Api(gateway.url, org.admin.token).get(PATH)).body["language"] == "en"
