"""The privacy policy and terms as versioned documents: operators publish them (API and
command line), anyone reads the current version and its last-updated date; a material
change reaches every active person by email and in their inbox, whatever their settings,
and shows them a banner until they acknowledge it; a minor one asks nothing of anyone;
bad input publishes nothing. Each test runs an installation of its own, so that it knows
who everyone is."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from aisonar.accounts.membership import update_user
from aisonar.cli import main
from aisonar.crypto import SecretBox
from aisonar.notify import webhooks
from aisonar.notify.notices import POLICY_CHANGED
from aisonar.privacy.policies import PolicyKind, announce, announce_pending, publish_policy
from aisonar.store.roles import Role
from aisonar.store.tables import audit_log, notice_deliveries, notices, policies
from tests.api.people import Api, Person, make_org, make_person
from tests.mailbox import Mailbox, bodies
from tests.privacy.installation import Installation, own_installation
from tests.support import cli_environment

TERMS_SUBJECT = "Our terms of service changed"
PRIVACY_SUBJECT = "Our privacy policy changed"
SETTINGS = "/api/me/notification-settings"


async def policy_notices(site: Installation, user_id: str) -> list[dict[str, object]]:
    async with site.backend.engine.connect() as conn:
        rows = await conn.execute(
            select(notices.c.data).where(
                notices.c.user_id == user_id, notices.c.kind == POLICY_CHANGED
            )
        )
        return [dict(data) for data in rows.scalars()]


async def audited(site: Installation, action: str) -> list[Any]:
    async with site.backend.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
        )
        return list(rows)


async def test_operators_publish_versions_that_anyone_reads(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    async with own_installation(tmp_path, mailbox) as site:
        org = await make_org(site.backend.engine)
        operator, anyone = Api(site.url, site.operator.token), Api(site.url, None)
        assert (await anyone.get("/api/policies")).body == []
        assert (await anyone.get("/api/policies/privacy")).status == 404
        assert (await anyone.get("/api/policies/cookies")).status == 404
        for caller in (org.member, org.admin):
            mine = {"kind": "privacy", "body": "We sell everything."}
            assert (await Api(site.url, caller.token).post("/api/policies", mine)).status == 403
        for bad, param in (
            ({"kind": "cookies", "body": "x"}, "kind"),
            ({"kind": "privacy", "body": ""}, "body"),
            ({"kind": "privacy", "body": "  \n"}, "body"),
            ({"kind": "privacy", "body": "x" * 200_001}, "body"),
            ({"kind": "privacy", "body": "x", "title": "two\nlines"}, "title"),
            ({"kind": "privacy", "body": "x", "material": "maybe"}, "material"),
            ({"kind": "privacy", "body": "x", "version": 7}, "version"),
        ):
            answer = await operator.post("/api/policies", bad)
            assert (answer.status, answer.body["error"]["param"]) == (400, param), bad
        assert (await anyone.get("/api/policies")).body == []

        text = "# Privacy\n\nWe keep metadata, never content.\n"
        first = await operator.post("/api/policies", {"kind": "privacy", "body": text})
        assert first.status == 201
        assert (first.body["version"], first.body["title"], first.body["material"]) == (
            1,
            "Privacy policy",
            True,
        )
        assert first.body["digest"] == hashlib.sha256(text.encode()).hexdigest()
        # The operator, the organization's admin and its member.
        assert first.body["announced_to"] == 3
        # The same text and title again would be nothing new to read.
        assert (
            await operator.post("/api/policies", {"kind": "privacy", "body": text})
        ).status == 409
        fixed = text.replace("keep metadata", "keep only metadata")
        minor = await operator.post(
            "/api/policies",
            {"kind": "privacy", "body": fixed, "title": "Privacy notice", "material": False},
        )
        assert (minor.status, minor.body["version"], minor.body["announced_to"]) == (201, 2, 0)
        # Versions count per kind.
        terms = await operator.post("/api/policies", {"kind": "terms", "body": "Be kind."})
        assert (terms.body["version"], terms.body["title"]) == (1, "Terms of service")

        current = await anyone.get("/api/policies/privacy")
        assert current.status == 200
        assert (current.body["version"], current.body["title"], current.body["body"]) == (
            2,
            "Privacy notice",
            fixed,
        )
        # Its last-updated date is when the current version was published.
        assert current.body["published_at"] == minor.body["published_at"]
        listed = (await anyone.get("/api/policies")).body
        assert [(found["kind"], found["version"]) for found in listed] == [
            ("privacy", 2),
            ("terms", 1),
        ]
        entries = await audited(site, "policy.publish")
        assert [entry.actor for entry in entries] == [site.operator.email] * 3
        assert entries[1].changes["material"] == [None, False]
        assert entries[1].changes["version"] == [None, 2]


async def test_a_material_change_reaches_every_active_person_whatever_their_settings(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    async with own_installation(tmp_path, mailbox) as site:
        engine = site.backend.engine
        first, second = await make_org(engine), await make_org(engine)
        gone = await make_person(engine, first.name, Role.USER)
        async with engine.begin() as conn:
            await update_user(conn, gone.user_id, disabled=True)
            # Taking every kind: still, a policy change is none of the organization's business.
            box = SecretBox(site.backend.settings.resolved_secret_key())
            await webhooks.create_endpoint(conn, box, first.id, "https://hooks.example.com/all")
        member = Api(site.url, first.member.token)
        # Nobody can turn it off: a change to what they accepted must reach them.
        off = {"kinds": {POLICY_CHANGED: {"email": False}}}
        assert (await member.call("PATCH", SETTINGS, off)).status == 400
        assert (await member.call("PATCH", SETTINGS, {"language": "zh-Hans"})).status == 200

        published = await Api(site.url, site.operator.token).post(
            "/api/policies", {"kind": "terms", "body": "New terms.", "title": "Terms of use"}
        )
        everyone: list[Person] = [
            site.operator,
            first.admin,
            first.member,
            second.admin,
            second.member,
        ]
        assert published.body["announced_to"] == len(everyone)
        for person in everyone:
            if person is not first.member:
                told = await mailbox.wait_for_subject(person.email, TERMS_SUBJECT)
                assert 'Version 1 of "Terms of use" is published' in bodies(told)[0]
            inbox = (await Api(site.url, person.token).get("/api/me/notices")).body
            [notice] = [found for found in inbox if found["kind"] == POLICY_CHANGED]
            assert notice["data"]["policy_id"] == published.body["id"]
            assert notice["security"] is True
        # In the language the person chose.
        told = await mailbox.wait_for_subject(first.member.email, "我们的服务条款已更新")
        assert "“Terms of use”的第 1 版已发布" in bodies(told)[0]
        assert await policy_notices(site, gone.user_id) == []
        async with engine.connect() as conn:
            posted = await conn.execute(
                select(func.count())
                .select_from(notice_deliveries.join(notices))
                .where(notices.c.kind == POLICY_CHANGED, notice_deliveries.c.channel == "webhook")
            )
            assert posted.scalar_one() == 0


async def test_announcing_in_batches_tells_each_person_once(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    async with own_installation(tmp_path, mailbox) as site:
        engine = site.backend.engine
        org = await make_org(engine)
        extra = [await make_person(engine, org.name, Role.USER) for _ in range(3)]
        async with engine.begin() as conn:
            policy = await publish_policy(conn, PolicyKind.PRIVACY, "Batched.", material=True)
        people = [site.operator, org.admin, org.member, *extra]
        # Two people per transaction: three full batches, the last one short.
        assert await announce(engine, policy, batch=2) == len(people)
        for person in people:
            assert await policy_notices(site, person.user_id) == [
                {"policy_id": policy.id, "kind": "privacy", "version": 1, "title": "Privacy policy"}
            ]
        async with engine.connect() as conn:
            total = await conn.execute(select(func.count()).where(notices.c.kind == POLICY_CHANGED))
            assert total.scalar_one() == len(people)


async def test_a_half_done_announcement_is_resumed_and_servers_never_tell_twice(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    async with own_installation(tmp_path, mailbox) as site:
        engine = site.backend.engine
        org = await make_org(engine)
        extra = [await make_person(engine, org.name, Role.USER) for _ in range(3)]
        ids = sorted(p.user_id for p in [site.operator, org.admin, org.member, *extra])
        async with engine.begin() as conn:
            stopped = await publish_policy(conn, PolicyKind.PRIVACY, "Stopped.", material=True)
            # A server told the first two, then stopped.
            await conn.execute(
                update(policies).where(policies.c.id == stopped.id).values(announced_through=ids[1])
            )
        assert await announce_pending(engine) == len(ids) - 2
        told = [len(await policy_notices(site, user_id)) for user_id in ids]
        assert told == [0, 0] + [1] * (len(ids) - 2)
        assert await announce_pending(engine) == 0

        async with engine.begin() as conn:
            raced = await publish_policy(conn, PolicyKind.TERMS, "Raced.", material=True)
        # Two servers announcing the same version at once tell everyone once between them.
        counts = await asyncio.gather(*(announce(engine, raced, batch=2) for _ in range(2)))
        assert sum(counts) == len(ids)
        async with engine.connect() as conn:
            per_person = await conn.execute(
                select(notices.c.user_id, func.count())
                .where(
                    notices.c.kind == POLICY_CHANGED, notices.c.data["kind"].as_string() == "terms"
                )
                .group_by(notices.c.user_id)
            )
            assert sorted(per_person) == [(user_id, 1) for user_id in ids]
            done = await conn.execute(
                select(policies.c.announced_at).where(policies.c.id == raced.id)
            )
            assert done.scalar_one() is not None


async def test_the_banner_shows_until_the_person_acknowledges_a_material_version(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    async with own_installation(tmp_path, mailbox) as site:
        org = await make_org(site.backend.engine)
        operator = Api(site.url, site.operator.token)
        member, admin = Api(site.url, org.member.token), Api(site.url, org.admin.token)
        assert (await member.get("/api/me/policies")).body == []

        async def publish(kind: str, body: str, material: bool = True) -> str:
            answer = await operator.post(
                "/api/policies", {"kind": kind, "body": body, "material": material}
            )
            assert answer.status == 201
            return str(answer.body["id"])

        async def standing(api: Api, kind: str = "privacy") -> dict[str, object]:
            [found] = [s for s in (await api.get("/api/me/policies")).body if s["kind"] == kind]
            return dict(found)

        first = await publish("privacy", "Version one.")
        shown = await standing(member)
        assert (shown["id"], shown["version"], "body" in shown) == (first, 1, False)
        assert (shown["acknowledged"], shown["needs_acknowledgement"]) == (False, True)

        acknowledged = await member.post(f"/api/me/policies/{first}/acknowledge", None)
        assert acknowledged.status == 200
        assert acknowledged.body["acknowledged"] is True
        assert acknowledged.body["needs_acknowledgement"] is False
        again = await member.post(f"/api/me/policies/{first}/acknowledge", None)
        assert again.body["acknowledged_at"] == acknowledged.body["acknowledged_at"]
        [entry] = await audited(site, "policy.acknowledge")
        assert (entry.actor, entry.object_id, entry.org_id) == (
            org.member.email,
            org.member.user_id,
            org.id,
        )
        assert entry.changes == {
            "kind": [None, "privacy"],
            "policy_id": [None, first],
            "version": [None, 1],
        }
        # Another person's banner stays until they acknowledge it themselves.
        assert (await standing(admin))["needs_acknowledgement"] is True

        # A minor version: not acknowledged, but nothing to acknowledge either.
        await publish("privacy", "Version one, typo fixed.", material=False)
        shown = await standing(member)
        assert (shown["version"], shown["acknowledged"], shown["needs_acknowledgement"]) == (
            2,
            False,
            False,
        )
        # Only the current version can be acknowledged; an unknown one does not exist.
        superseded = await member.post(f"/api/me/policies/{first}/acknowledge", None)
        assert superseded.status == 409
        assert superseded.body["error"]["code"] == "policy_superseded"
        assert (await member.post("/api/me/policies/pol_none/acknowledge", None)).status == 404

        third = await publish("privacy", "Version three: a real change.")
        assert (await standing(member))["needs_acknowledgement"] is True
        await member.post(f"/api/me/policies/{third}/acknowledge", None)
        assert (await standing(member))["needs_acknowledgement"] is False
        # Never having acknowledged any terms, a person must, even a minor version.
        await publish("terms", "Terms, quietly.", material=False)
        assert (await standing(member, "terms"))["needs_acknowledgement"] is True
        assert (await Api(site.url, None).get("/api/me/policies")).status == 401


async def test_the_command_line_publishes_and_lists(tmp_path: Path, mailbox: Mailbox) -> None:
    async with own_installation(tmp_path, mailbox) as site:
        org = await make_org(site.backend.engine)
        env = cli_environment(site.backend)

        async def aisonar(*args: str, ok: bool = True) -> Result:
            result = await asyncio.to_thread(
                CliRunner().invoke, main, list(args), env=env, catch_exceptions=False
            )
            assert (result.exit_code == 0) is ok, result.output
            return result

        terms = tmp_path / "terms.md"
        terms.write_text("# Terms\n\nBe excellent to each other.\n", encoding="utf-8")
        published = json.loads(
            (
                await aisonar(
                    "policy",
                    "publish",
                    str(terms),
                    "--kind",
                    "terms",
                    "--title",
                    "House rules",
                    "--json",
                )
            ).stdout
        )
        assert (published["kind"], published["version"], published["title"]) == (
            "terms",
            1,
            "House rules",
        )
        assert (published["material"], published["published_by"]) == (True, "command line")
        assert "body" not in published
        told = await mailbox.wait_for_subject(org.member.email, TERMS_SUBJECT)
        assert '"House rules"' in bodies(told)[0]

        terms.write_text("# Terms\n\nBe excellent to each other!\n", encoding="utf-8")
        quiet = json.loads(
            (
                await aisonar(
                    "policy", "publish", str(terms), "--kind", "terms", "--minor", "--json"
                )
            ).stdout
        )
        assert (quiet["version"], quiet["material"], quiet["title"]) == (
            2,
            False,
            "Terms of service",
        )
        repeated = await aisonar(
            "policy", "publish", str(terms), "--kind", "terms", "--minor", ok=False
        )
        assert "already has this title and text" in repeated.output
        await aisonar("policy", "publish", str(terms), "--kind", "cookies", ok=False)
        garbled = tmp_path / "garbled.md"
        garbled.write_bytes(b"\xff\xfe not text")
        assert (
            "not UTF-8"
            in (
                await aisonar("policy", "publish", str(garbled), "--kind", "terms", ok=False)
            ).output
        )

        listed = json.loads((await aisonar("policy", "list", "--json")).stdout)
        assert [(found["version"], found["material"]) for found in listed] == [
            (2, False),
            (1, True),
        ]
        assert all("body" not in found for found in listed)
        assert "House rules" in (await aisonar("policy", "list", "--kind", "terms")).output
        assert "House rules" not in (await aisonar("policy", "list", "--kind", "privacy")).output
        # The minor version announced nothing.
        assert len(await policy_notices(site, org.member.user_id)) == 1
