"""`PATCH /api/me`: a signed-in person corrects their name, company and language, and only
their own; each change is audited and told to them (a `profile_changed` notice, as their
notification settings say); bad input is refused in the API's error format and changes
nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from aisonar.notify.notices import PROFILE_CHANGED as PROFILE
from aisonar.notify.notices import Channel
from aisonar.store.tables import audit_log, notice_deliveries, notices
from aisonar.testing.gateway_server import RunningGateway
from tests.api.deletions import eventually
from tests.api.people import Api, make_org
from tests.mailbox import Mailbox, bodies
from tests.support import Backend

SETTINGS = "/api/me/notification-settings"


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
    for bad, param in (
        ({"company": "c" * 201}, "company"),
        ({"company": "two\nlines"}, "company"),
        ({"company": None}, "company"),
        ({"language": "klingon"}, "language"),
        ({"language": None}, "language"),
        ({"name": "Fine", "language": "fr"}, "language"),
    ):
        refused = await api.call("PATCH", "/api/me", bad)
        assert (refused.status, refused.body["error"]["param"]) == (400, param), bad
    nothing = await api.call("PATCH", "/api/me", {})
    assert nothing.status == 400
    assert nothing.body["error"]["message"].startswith("nothing to change")
    # A profile change cannot reach anything but the profile: not a role, nor another user.
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


async def test_company_and_language_are_corrected_audited_and_told(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    corrected = await api.call(
        "PATCH", "/api/me", {"company": "  Quillfeather Analytics ", "language": "zh-Hans"}
    )
    assert corrected.status == 200
    assert (corrected.body["company"], corrected.body["language"]) == (
        "Quillfeather Analytics",
        "zh-Hans",
    )
    assert corrected.body == (await api.get("/api/me")).body
    # One language, whichever way it is set.
    assert (await api.get(SETTINGS)).body["language"] == "zh-Hans"
    [entry] = await profile_entries(backend, org.member.user_id)
    assert entry.changes == {
        "company": [None, "Quillfeather Analytics"],
        "language": ["en", "zh-Hans"],
    }
    # Told in the language just chosen, naming the fields, not their values: a language
    # switch is no notice.
    told = await mailbox.wait_for_subject(org.member.email, "您的个人资料已更改")
    assert "公司" in bodies(told)[0] and "Quillfeather" not in bodies(told)[0]
    assert "语言" not in bodies(told)[0]
    [notice] = [n for n in (await api.get("/api/me/notices")).body if n["kind"] == PROFILE]
    assert notice["data"] == {"fields": ["company"]}

    back = await api.call("PATCH", SETTINGS, {"language": "en"})
    assert back.status == 200 and (await api.get("/api/me")).body["language"] == "en"
    switched = await api.call("PATCH", "/api/me", {"language": "zh-Hans"})
    assert switched.status == 200
    assert (await profile_entries(backend, org.member.user_id))[-1].changes == {
        "language": ["en", "zh-Hans"]
    }
    told_of = [n for n in (await api.get("/api/me/notices")).body if n["kind"] == PROFILE]
    assert told_of == [notice]
    cleared = await api.call("PATCH", "/api/me", {"company": ""})
    assert cleared.status == 200 and cleared.body["company"] is None
    assert (await profile_entries(backend, org.member.user_id))[-1].changes == {
        "company": ["Quillfeather Analytics", None]
    }


async def test_a_profile_change_is_not_mailed_to_someone_who_opted_out(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    api = Api(gateway.url, org.member.token)
    opted = await api.call("PATCH", SETTINGS, {"kinds": {PROFILE: {"email": False}}})
    assert opted.status == 200
    assert (await api.call("PATCH", "/api/me", {"name": "Quiet Person"})).status == 200
    [notice] = [n for n in (await api.get("/api/me/notices")).body if n["kind"] == PROFILE]

    async def dispatched() -> bool:
        async with backend.engine.connect() as conn:
            row = await conn.execute(
                select(notices.c.dispatched_at).where(notices.c.id == notice["id"])
            )
            return row.scalar_one() is not None

    await eventually(dispatched)
    async with backend.engine.connect() as conn:
        deliveries = await conn.execute(
            select(notice_deliveries.c.channel).where(notice_deliveries.c.notice_id == notice["id"])
        )
        assert Channel.EMAIL.value not in list(deliveries.scalars())
    sent = [message["Subject"] for message in mailbox.messages_to(org.member.email)]
    assert "Your profile was changed" not in sent
