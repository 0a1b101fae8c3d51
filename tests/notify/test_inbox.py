"""The in-app inbox: key, password, role, plan and recharge events become notices in
the same transaction; a person sees their own, and an org admin their organization's
too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from aisonar.accounts.sessions import is_new_address, start_session
from aisonar.store.tables import notice_opt_outs
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_operator, make_org
from tests.support import Backend


def kinds(answer: Any) -> list[str]:
    return [notice["kind"] for notice in answer.body]


async def test_key_and_account_events_reach_their_person_and_org_events_the_admins(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    member, admin = Api(gateway.url, org.member.token), Api(gateway.url, org.admin.token)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    created = await member.post("/api/me/keys", {"name": "ci"})
    await member.post(f"/api/keys/{created.body['id']}/rotate", {"grace_s": 0})
    await member.delete(f"/api/keys/{created.body['id']}")
    await admin.call("PATCH", f"/api/users/{org.member.user_id}", {"role": "org_admin"})
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "5"})
    await operator.call("PATCH", f"/api/orgs/{org.id}", {"plan": "pro"})
    mine = await member.get("/api/me/notices")
    own = [n for n in mine.body if n["user_id"] == org.member.user_id]
    assert [n["kind"] for n in own][:4] == [
        "role_changed",
        "key_revoked",
        "key_rotated",
        "key_created",
    ]
    assert own[0]["data"] == {"before": "user", "after": "org_admin"} and own[0]["security"]
    # Promoted, the member now sees the organization's notices too.
    assert kinds(mine)[:2] == ["plan_changed", "recharge_received"]
    theirs = await admin.get("/api/me/notices")
    assert kinds(theirs)[:2] == ["plan_changed", "recharge_received"]
    # Their own and the organization's, never another member's.
    assert {n["user_id"] for n in theirs.body} == {None, org.admin.user_id}
    recharge = next(n for n in theirs.body if n["kind"] == "recharge_received")
    assert recharge["data"]["amount"] == "5.00" and recharge["security"] is False
    older = await admin.get(f"/api/me/notices?before_id={theirs.body[0]['id']}&limit=1")
    assert [n["id"] for n in older.body] == [theirs.body[1]["id"]]


async def test_a_user_elsewhere_sees_nothing_of_an_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    a, b = await make_org(backend.engine), await make_org(backend.engine)
    await Api(gateway.url, b.member.token).post("/api/me/keys", {"name": "b"})
    seen = (await Api(gateway.url, a.admin.token).get("/api/me/notices")).body
    assert all(n["data"].get("name") != "b" for n in seen)


async def test_a_sign_in_is_new_only_from_a_network_not_seen_before(backend: Backend) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        user = org.member.user_id
        assert not await is_new_address(conn, user, "10.0.0.1")  # the first sign-in ever
        await start_session(conn, user, ip="10.0.0.1", lifetime=timedelta(hours=1))
        assert not await is_new_address(conn, user, "10.0.0.1")
        # The same /24: the next lease of a home router.
        assert not await is_new_address(conn, user, "10.0.0.2")
        assert await is_new_address(conn, user, "10.0.1.2")
        await start_session(conn, user, ip="2001:db8:1::5", lifetime=timedelta(hours=1))
        assert not await is_new_address(conn, user, "2001:db8:1:ff::9")
        assert await is_new_address(conn, user, "2001:db8:2::5")


async def test_kinds_taken_out_of_the_inbox_are_not_shown_but_security_ones_are(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    off = {"kinds": {"recharge_received": {"inbox": False}}}
    assert (await admin.call("PATCH", "/api/me/notification-settings", off)).status == 200
    async with backend.engine.begin() as conn:
        # Refused by the API; a row left in the database must not hide it either.
        await conn.execute(
            insert(notice_opt_outs).values(
                user_id=org.admin.user_id, kind="key_created", channel="inbox"
            )
        )
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "5"})
    await operator.call("PATCH", f"/api/orgs/{org.id}", {"plan": "pro"})
    assert kinds(await admin.get("/api/me/notices")) == ["plan_changed", "key_created"]
    # Still recorded, for the other admins and for the operator.
    everything = await operator.get(f"/api/notices?org_id={org.id}")
    assert "recharge_received" in kinds(everything)


async def test_notices_stay_unread_until_marked_and_the_mark_never_moves_back(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    member, admin = Api(gateway.url, org.member.token), Api(gateway.url, org.admin.token)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    await member.post("/api/me/keys", {"name": "one"})
    await member.post("/api/me/keys", {"name": "two"})
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "5"})
    shown = (await member.get("/api/me/notices")).body
    assert [n["data"].get("name") for n in shown][:2] == ["two", "one"]
    assert {n["read"] for n in shown} == {False}
    assert (await member.get("/api/me/notices/unread")).body == {
        "read_through": 0,
        "unread": len(shown),
    }
    # Marking the older one read leaves the newer unread.
    older = shown[1]["id"]
    marked = await member.post("/api/me/notices/read", {"through_id": older})
    assert marked.status == 200 and marked.body == {"read_through": older, "unread": 1}
    assert [n["read"] for n in (await member.get("/api/me/notices")).body][:2] == [False, True]
    # A lower mark changes nothing; a negative one is refused.
    assert (await member.post("/api/me/notices/read", {"through_id": 1})).body["unread"] == 1
    assert (await member.post("/api/me/notices/read", {"through_id": -1})).status == 400
    # The admin's inbox, with the organization's recharge notice, has its own mark.
    admin_shown = (await admin.get("/api/me/notices")).body
    assert "recharge_received" in [n["kind"] for n in admin_shown]
    assert (await admin.get("/api/me/notices/unread")).body["unread"] == len(admin_shown)
    newest = shown[0]["id"]
    assert (await member.post("/api/me/notices/read", {"through_id": newest})).body == {
        "read_through": newest,
        "unread": 0,
    }
    assert (await admin.get("/api/me/notices/unread")).body["unread"] == len(admin_shown)
