"""Consent and objection: analytics is off until the person grants it; every choice is
kept, with the privacy policy it was made under; withdrawing takes effect at once, for
the site analytics too (`has_consented`); each change is audited; bad input records
nothing; nobody reaches another person's choices."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from aisonar.privacy.consents import has_consented
from aisonar.privacy.policies import PolicyKind, publish_policy
from aisonar.store.tables import audit_log, consents
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_org
from tests.support import Backend

PATH = "/api/me/consents"


async def consent_audit(backend: Backend, user_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log)
            .where(audit_log.c.object_id == user_id, audit_log.c.action == "consent.update")
            .order_by(audit_log.c.id)
        )
        return list(rows)


async def consented(backend: Backend, user_id: str) -> bool:
    async with backend.engine.connect() as conn:
        return await has_consented(conn, user_id, "analytics")


async def test_analytics_is_off_until_granted_and_withdrawn_at_once(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    member, admin = Api(gateway.url, org.member.token), Api(gateway.url, org.admin.token)
    assert (await member.get(PATH)).body == {"current": {"analytics": False}, "history": []}
    assert await consented(backend, org.member.user_id) is False
    # A minor version is current: what the choices below were made under.
    async with backend.engine.begin() as conn:
        privacy = await publish_policy(
            conn, PolicyKind.PRIVACY, f"Privacy {secrets.token_hex(4)}", material=False
        )

    granted = await member.call("PUT", f"{PATH}/analytics", {"granted": True})
    assert granted.status == 200 and granted.body["current"] == {"analytics": True}
    [entry] = granted.body["history"]
    assert (entry["purpose"], entry["granted"], entry["policy_id"], entry["source"]) == (
        "analytics",
        True,
        privacy.id,
        "api",
    )
    assert await consented(backend, org.member.user_id) is True

    withdrawn = await member.call("PUT", f"{PATH}/analytics", {"granted": False})
    assert withdrawn.body["current"] == {"analytics": False}
    assert await consented(backend, org.member.user_id) is False
    # The same choice again is kept too (renewed), but changes nothing to audit.
    again = await member.call("PUT", f"{PATH}/analytics", {"granted": False})
    assert [e["granted"] for e in again.body["history"]] == [False, False, True]
    assert again.body == (await member.get(PATH)).body
    entries = await consent_audit(backend, org.member.user_id)
    assert [(e.actor, e.org_id, e.ip) for e in entries] == [
        (org.member.email, org.id, "127.0.0.1")
    ] * 2
    assert [e.changes for e in entries] == [
        {"analytics": [False, True], "policy_id": [None, privacy.id]},
        {"analytics": [True, False]},
    ]
    # One person's choice is theirs alone.
    assert (await admin.get(PATH)).body == {"current": {"analytics": False}, "history": []}
    assert await consented(backend, org.admin.user_id) is False


async def test_bad_choices_are_refused_and_record_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    member = Api(gateway.url, org.member.token)
    unknown = await member.call("PUT", f"{PATH}/marketing", {"granted": True})
    assert unknown.status == 404 and "analytics" in unknown.body["error"]["message"]
    for bad in ({}, {"granted": "yes"}, {"granted": 1}, {"granted": True, "user_id": "usr_x"}):
        refused = await member.call("PUT", f"{PATH}/analytics", bad)
        assert refused.status == 400, bad
    unsigned = await Api(gateway.url, None).call("PUT", f"{PATH}/analytics", {"granted": True})
    assert unsigned.status == 401
    assert (await Api(gateway.url, None).get(PATH)).status == 401
    async with backend.engine.connect() as conn:
        rows = await conn.execute(select(consents).where(consents.c.user_id == org.member.user_id))
        assert list(rows) == []
    assert await consent_audit(backend, org.member.user_id) == []
