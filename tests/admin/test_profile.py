"""`PATCH /api/me`: a signed-in person renames themselves, and only themselves; the change
is audited; bad input is refused in the API's error format and changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from aisonar.store.tables import audit_log
from aisonar.testing.gateway_server import RunningGateway
from tests.admin.people import Api, make_org
from tests.support import Backend


async def profile_entries(backend: Backend, user_id: str) -> list[Any]:
    async with backend.engine.connect() as conn:
        query = select(audit_log).where(
            audit_log.c.object_id == user_id, audit_log.c.action == "user.update"
        )
        return list(await conn.execute(query.order_by(audit_log.c.id)))


async def test_a_person_renames_themselves_and_the_change_is_audited(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    renamed = await api.call("PATCH", "/api/me", {"name": "  Ada Lovelace \t"})
    assert renamed.status == 200
    assert renamed.body["name"] == "Ada Lovelace"
    assert renamed.body == (await api.get("/api/me")).body
    assert (renamed.body["id"], renamed.body["role"]) == (org.member.user_id, "user")
    [entry] = await profile_entries(backend, org.member.user_id)
    assert (entry.actor, entry.actor_user_id, entry.ip) == (
        org.member.email,
        org.member.user_id,
        "127.0.0.1",
    )
    assert (entry.object_kind, entry.org_id) == ("user", org.id)
    assert entry.changes == {"name": ["Test", "Ada Lovelace"]}
    # The column's full size is accepted; the same name again changes nothing and is
    # not recorded.
    longest = "n" * 200
    assert (await api.call("PATCH", "/api/me", {"name": longest})).body["name"] == longest
    assert (await api.call("PATCH", "/api/me", {"name": longest})).status == 200
    assert [e.changes for e in await profile_entries(backend, org.member.user_id)] == [
        {"name": ["Test", "Ada Lovelace"]},
        {"name": ["Ada Lovelace", longest]},
    ]


async def test_bad_names_are_refused_and_change_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    before = (await api.get("/api/me")).body
    for bad in (
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "n" * 201},
        {"name": "two\nlines"},
        {"name": 42},
        {"name": None},
    ):
        refused = await api.call("PATCH", "/api/me", bad)
        assert refused.status == 400, bad
        error = refused.body["error"]
        assert (error["type"], error["param"]) == ("invalid_request_error", "name"), bad
        assert error["message"].startswith("name: "), bad
    # A profile change cannot reach anything but the name: not a role, nor another user.
    for smuggled in (
        {"name": "Boss", "role": "operator"},
        {"name": "Boss", "disabled": False},
        {"name": "Boss", "id": org.admin.user_id},
    ):
        refused = await api.call("PATCH", "/api/me", smuggled)
        assert refused.status == 400, smuggled
    assert (await api.get("/api/me")).body == before
    assert await profile_entries(backend, org.member.user_id) == []
    unsigned = await Api(gateway.url, None).call("PATCH", "/api/me", {"name": "Nobody"})
    assert unsigned.status == 401


async def test_a_rename_through_me_touches_the_caller_alone(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    admin, member = Api(gateway.url, org.admin.token), Api(gateway.url, org.member.token)
    member_before = (await member.get("/api/me")).body
    renamed = await admin.call("PATCH", "/api/me", {"name": "The Admin"})
    assert (renamed.body["id"], renamed.body["name"]) == (org.admin.user_id, "The Admin")
    assert (await member.get("/api/me")).body == member_before
    assert (await admin.get(f"/api/users/{org.member.user_id}")).body == member_before
    assert await profile_entries(backend, org.member.user_id) == []
    [entry] = await profile_entries(backend, org.admin.user_id)
    assert entry.actor == org.admin.email
