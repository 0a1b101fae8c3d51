"""An organization's pages over plain HTTP: an org admin reaches their own (and an
operator any), adds a member, changes a role (the member is mailed), disables a member
(their session and key stop), revokes a member's key, sets a member's limits (alert
rules: `test_console_org_alerts.py`), each persisted and audited as the API does; what
only an operator may change (the organization's limits, its low-balance threshold) is
refused to the admin; bad input changes nothing and keeps what was typed; another
organization's admin and a plain member are refused and change nothing."""

from __future__ import annotations

import asyncio
import json
import re
import secrets

import aiohttp
import httpx
import pytest
from sqlalchemy import func, select

from aisonar.accounts import services as accounts
from aisonar.alerts import services as alerts
from aisonar.alerts.models import AlertKind, RuleSettings
from aisonar.billing.money import parse_amount
from aisonar.clock import utcnow
from aisonar.limits.models import LimitSet, Subject, SubjectKind
from aisonar.limits.services import get_limits
from aisonar.store.roles import Role
from aisonar.store.tables import users
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.compaction import compact
from tests.console.forms import fetch, http_session, make_a_request
from tests.console.operators import audited
from tests.console.people import (
    MARKUP,
    PASSWORD,
    ConsolePerson,
    console_person,
    csrf_token_in,
    sign_in_over_http,
)
from tests.mailbox import Mailbox
from tests.support import Backend


async def submit(
    http: aiohttp.ClientSession, url: str, page: str, action: str, fields: dict[str, str]
) -> tuple[int, str, str]:
    """Post a form of `page` (the token read from it) to `action`: the status, the
    redirect's target, the page answered."""
    status, html = await fetch(http, url + page)
    assert status == 200, html
    form = {"csrf_token": csrf_token_in(html), **fields}
    async with http.post(url + action, data=form, allow_redirects=False) as answer:
        return answer.status, answer.headers.get("location", ""), await answer.text()


async def user_count(backend: Backend, org_id: str) -> int:
    async with backend.engine.connect() as conn:
        query = select(func.count()).where(users.c.org_id == org_id)
        return int((await conn.execute(query)).scalar_one())


async def colleague(
    backend: Backend, admin: ConsolePerson, *, name: str = MARKUP, role: Role = Role.USER
) -> ConsolePerson:
    """A member of the admin's organization, with a password."""
    email = f"member-{secrets.token_hex(4)}@example.com"
    async with backend.engine.begin() as conn:
        org = await accounts.get_org(conn, admin.org_id)
        user = await accounts.create_user(
            conn, email, org.name, name=name, role=role, password=PASSWORD
        )
    return ConsolePerson(user.id, admin.org_id, email)


def org_page(person: ConsolePerson, *parts: str) -> str:
    return "/".join((f"/console/orgs/{person.org_id}", *parts))


async def test_the_navigation_leads_admins_and_operators_to_their_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    user = await console_person(backend.engine)
    for person in (admin, operator):
        async with http_session() as http:
            await sign_in_over_http(http, gateway.url, person.email)
            status, html = await fetch(http, gateway.url + "/console")
            assert 'href="/console/org"' in html
            async with http.get(gateway.url + "/console/org", allow_redirects=False) as answer:
                assert answer.status == 303
                assert answer.headers["location"] == org_page(person)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, user.email)
        status, html = await fetch(http, gateway.url + "/console")
        assert 'href="/console/org"' not in html
        # A member of the organization learns only that they may not.
        for path in (
            "/console/org",
            *(org_page(user, p) for p in ("", "members", "limits", "alerts")),
        ):
            status, html = await fetch(http, gateway.url + path.rstrip("/"))
            assert status == 403, (path, status)
            assert "Only the organization&#39;s admins may do this." in html


async def test_a_plain_member_cannot_post_to_the_organization_pages(
    gateway: RunningGateway, backend: Backend
) -> None:
    user = await console_person(backend.engine)
    other = await colleague(backend, user, name="Other")
    before = await user_count(backend, user.org_id)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, user.email)
        for action, fields in (
            (org_page(user, "members"), {"email": "sneaky@example.com", "role": "org_admin"}),
            (org_page(user, "members", other.user_id, "state"), {"disabled": "yes"}),
            (org_page(user, "members", other.user_id, "role"), {"role": "org_admin"}),
            (org_page(user, "members", other.user_id, "limits"), {"rpm": "1"}),
            (org_page(user, "alerts"), {"kind": "cost", "threshold": "1"}),
        ):
            status, _, _ = await submit(http, gateway.url, "/console/keys", action, fields)
            assert status == 403, action
    assert await user_count(backend, user.org_id) == before
    async with backend.engine.connect() as conn:
        unchanged = await accounts.get_user(conn, other.user_id)
        assert (unchanged.role, unchanged.disabled) == ("user", False)
        assert await get_limits(conn, Subject(SubjectKind.USER, other.user_id)) == LimitSet()
        assert await alerts.list_rules(conn, user.org_id) == []


async def test_the_overview_shows_balance_spend_members_and_cost_per_day(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, name="Grace Admin", role=Role.ORG_ADMIN)
    await colleague(backend, admin, name="Quiet Member")
    await make_a_request(gateway, backend, admin.email)
    async with backend.engine.begin() as conn:
        await compact(conn, utcnow())
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, gateway.url + org_page(admin))
    assert status == 200
    assert re.search(r'id="org-members">2<', html)
    chart = json.loads(re.search(r'id="chart-cost">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    today = utcnow().date().isoformat()
    assert chart["labels"][-1] == today and len(chart["labels"]) == 30
    cost_today = chart["values"][-1]
    assert parse_amount(cost_today) > 0
    table = html[html.index('id="cost-table"') :]
    assert f'<td>{today}</td><td class="num">1</td><td class="num">{cost_today}</td>' in table
    spend = html[html.index('id="member-spend-table"') :]
    assert "Grace Admin" in spend and cost_today in spend
    assert "Quiet Member" not in spend
    balance = re.search(r'id="org-balance">([0-9.]+) ', html).group(1)  # type: ignore[union-attr]
    assert parse_amount(balance) == parse_amount("100") - parse_amount(cost_today)


async def test_an_admin_adds_a_member_and_bad_input_adds_nobody(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    members = org_page(admin, "members")
    email = f"new-{secrets.token_hex(4)}@example.com"
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        before = await user_count(backend, admin.org_id)
        for fields, status_wanted, shown in (
            ({"email": "not an address", "name": "Typed Name", "role": "user"}, 400, "Typed Name"),
            ({"email": admin.email, "name": "Twin", "role": "user"}, 409, "already exists"),
            ({"email": email, "name": "Boss", "role": "operator"}, 403, "Only an operator may"),
            ({"email": email, "name": "Weak", "role": "user", "password": "x"}, 400, "Weak"),
        ):
            status, _, html = await submit(http, gateway.url, members, members, fields)
            assert status == status_wanted, (fields, html)
            assert shown in html
            assert 'role="alert"' in html
            assert "password" not in fields or f'value="{fields["password"]}"' not in html
        assert await user_count(backend, admin.org_id) == before

        fields = {"email": email, "name": MARKUP, "role": "org_admin", "password": PASSWORD}
        status, target, _ = await submit(http, gateway.url, members, members, fields)
        assert status == 303
        async with backend.engine.connect() as conn:
            added = await accounts.get_user_by_email(conn, email)
        assert target == org_page(admin, "members", added.id)
        assert (added.org_id, added.name, added.role) == (admin.org_id, MARKUP, "org_admin")
        [record] = await audited(backend, "user.create", added.id)
        assert (record.actor_user_id, record.org_id) == (admin.user_id, admin.org_id)

        status, html = await fetch(http, gateway.url + members)
        assert status == 200 and email in html
        assert "&lt;script&gt;" in html and MARKUP not in html
    # The new member signs in with the first password.
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, email)


async def test_a_role_change_is_saved_audited_and_mailed(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    member = await colleague(backend, admin)
    page = org_page(admin, "members", member.user_id)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, gateway.url + page)
        assert status == 200 and 'value="operator"' not in html
        status, _, _ = await submit(http, gateway.url, page, page + "/role", {"role": "operator"})
        assert status == 403
        status, _, html = await submit(http, gateway.url, page, page + "/role", {"role": "chief"})
        assert status == 400 and 'role="alert"' in html
        status, target, _ = await submit(
            http, gateway.url, page, page + "/role", {"role": "org_admin"}
        )
        assert (status, target) == (303, page)
        # Their own role is not theirs to change.
        own = org_page(admin, "members", admin.user_id)
        status, html = await fetch(http, gateway.url + own)
        assert 'action="' + own + '/role"' not in html
        status, _, html = await submit(http, gateway.url, own, own + "/role", {"role": "user"})
        assert status == 400 and "You may not disable yourself or change your own role." in html
    async with backend.engine.connect() as conn:
        assert (await accounts.get_user(conn, member.user_id)).role == "org_admin"
        assert (await accounts.get_user(conn, admin.user_id)).role == "org_admin"
    [record] = await audited(backend, "user.update", member.user_id)
    assert record.actor_user_id == admin.user_id
    assert record.changes["role"] == ["user", "org_admin"]
    await mailbox.wait_for_subject(member.email, "Your role was changed")


async def test_disabling_a_member_ends_their_session_and_stops_their_key(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    member = await colleague(backend, admin)
    async with backend.engine.begin() as conn:
        _, secret = await accounts.create_key(conn, member.email, name="soon stopped")
    page = org_page(admin, "members", member.user_id)
    models = gateway.url + "/v1/models"
    headers = {"Authorization": f"Bearer {secret}"}
    async with http_session() as theirs, http_session() as http, httpx.AsyncClient() as client:
        await sign_in_over_http(theirs, gateway.url, member.email)
        assert (await client.get(models, headers=headers)).status_code == 200
        await sign_in_over_http(http, gateway.url, admin.email)
        status, _, html = await submit(http, gateway.url, page, page + "/state", {"disabled": "?"})
        assert status == 400
        status, target, _ = await submit(
            http, gateway.url, page, page + "/state", {"disabled": "yes"}
        )
        assert (status, target) == (303, page)
        status, html = await fetch(http, gateway.url + page)
        assert re.search(r'id="member-state">disabled<', html)
        status, _ = await fetch(theirs, gateway.url + "/console")
        assert status == 303
        for _ in range(100):
            if (await client.get(models, headers=headers)).status_code == 401:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("a disabled member's key still works")
        status, _, _ = await submit(http, gateway.url, page, page + "/state", {"disabled": "no"})
        assert status == 303
    async with backend.engine.connect() as conn:
        assert not (await accounts.get_user(conn, member.user_id)).disabled
    changes = [
        row.changes["disabled"] for row in await audited(backend, "user.update", member.user_id)
    ]
    assert changes == [[False, True], [True, False]]


async def test_an_admin_revokes_a_members_key_after_confirming(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    member = await colleague(backend, admin)
    outsider = await console_person(backend.engine)
    async with backend.engine.begin() as conn:
        key, _ = await accounts.create_key(conn, member.email, name=MARKUP)
        foreign, _ = await accounts.create_key(conn, outsider.email, name="not yours")
    page = org_page(admin, "members", member.user_id)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, gateway.url + page)
        assert status == 200 and f"{page}/keys/{key.id}/revoke" in html
        assert "&lt;img src=x" in html and MARKUP not in html
        confirm = f"{page}/keys/{key.id}/revoke"
        # Another organization's key is not found under this member.
        status, _ = await fetch(http, gateway.url + f"{page}/keys/{foreign.id}/revoke")
        assert status == 404
        status, target, _ = await submit(http, gateway.url, confirm, confirm, {})
        assert (status, target) == (303, page)
        status, _, _ = await submit(
            http, gateway.url, confirm, f"{page}/keys/{foreign.id}/revoke", {}
        )
        assert status == 404
    async with backend.engine.connect() as conn:
        assert (await accounts.get_key(conn, key.id)).revoked_at is not None
        assert (await accounts.get_key(conn, foreign.id)).revoked_at is None
    [record] = await audited(backend, "key.revoke", key.id)
    assert record.actor_user_id == admin.user_id
    await mailbox.wait_for_subject(member.email, "API key revoked")


async def test_an_admin_sets_a_members_limits_and_bad_values_change_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    member = await colleague(backend, admin)
    page = org_page(admin, "members", member.user_id)
    subject = Subject(SubjectKind.USER, member.user_id)
    blank = dict.fromkeys(("rpm", "tpm", "concurrent", "daily_spend", "monthly_spend"), "")
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        fields = blank | {"rpm": "60", "daily_spend": "2.50"}
        status, target, _ = await submit(http, gateway.url, page, page + "/limits", fields)
        assert (status, target) == (303, page)
        async with backend.engine.connect() as conn:
            assert await get_limits(conn, subject) == LimitSet(rpm=60, daily_spend=2_500_000)
        status, html = await fetch(http, gateway.url + page)
        assert 'name="rpm" value="60"' in html and 'name="daily_spend" value="2.50"' in html

        bad = {
            "rpm": "sixty",
            "daily_spend": "2.50",
            "tpm": "",
            "concurrent": "",
            "monthly_spend": "",
        }
        status, _, html = await submit(http, gateway.url, page, page + "/limits", bad)
        assert status == 400 and 'name="rpm" value="sixty"' in html and 'role="alert"' in html
        # Emptied, a limit is removed.
        status, _, _ = await submit(
            http, gateway.url, page, page + "/limits", blank | {"daily_spend": "2.50"}
        )
        assert status == 303
    async with backend.engine.connect() as conn:
        assert await get_limits(conn, subject) == LimitSet(daily_spend=2_500_000)
    records = await audited(backend, "limits.set", member.user_id)
    assert [row.actor_user_id for row in records] == [admin.user_id] * 2


async def test_only_an_operator_changes_the_organizations_limits_and_threshold(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    page = org_page(admin, "limits")
    subject = Subject(SubjectKind.ORG, admin.org_id)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, gateway.url + page)
        assert status == 200 and 'id="org-limits"' in html and 'id="org-limits-form"' not in html
        status, _, _ = await submit(http, gateway.url, page, page, {"rpm": "5"})
        assert status == 403
        status, _, _ = await submit(
            http, gateway.url, page, page + "/threshold", {"low_balance_threshold": "7"}
        )
        assert status == 403
    async with backend.engine.connect() as conn:
        assert await get_limits(conn, subject) == LimitSet()
        assert (await accounts.get_org(conn, admin.org_id)).low_balance_threshold != 7_000_000
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, operator.email)
        status, _, html = await submit(
            http, gateway.url, page, page + "/threshold", {"low_balance_threshold": "-3"}
        )
        assert status == 400 and 'value="-3"' in html
        status, target, _ = await submit(
            http, gateway.url, page, page + "/threshold", {"low_balance_threshold": "7"}
        )
        assert (status, target) == (303, page)
        fields = {
            "rpm": "120",
            "tpm": "",
            "concurrent": "4",
            "daily_spend": "",
            "monthly_spend": "300",
        }
        status, target, _ = await submit(http, gateway.url, page, page, fields)
        assert (status, target) == (303, page)
    async with backend.engine.connect() as conn:
        limits = await get_limits(conn, subject)
        assert limits == LimitSet(rpm=120, concurrent=4, monthly_spend=300_000_000)
        assert (await accounts.get_org(conn, admin.org_id)).low_balance_threshold == 7_000_000
    [record] = await audited(backend, "limits.set", admin.org_id)
    assert record.actor_user_id == operator.user_id
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, gateway.url + page)
    assert 'id="low-balance-threshold">7.00<' in html
    assert "120" in html and "300.00" in html


async def test_another_organizations_admin_finds_nothing_and_changes_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    mine = await console_person(backend.engine, role=Role.ORG_ADMIN)
    theirs = await console_person(backend.engine, role=Role.ORG_ADMIN)
    their_member = await colleague(backend, theirs)
    async with backend.engine.begin() as conn:
        key, _ = await accounts.create_key(conn, their_member.email, name="theirs")
        rule = await alerts.create_rule(
            conn, theirs.org_id, RuleSettings(AlertKind.COST, "1", name="theirs")
        )
    member_page = org_page(theirs, "members", their_member.user_id)
    before = await user_count(backend, theirs.org_id)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, mine.email)
        for path in (
            org_page(theirs),
            org_page(theirs, "members"),
            org_page(theirs, "limits"),
            org_page(theirs, "alerts"),
            member_page,
            f"{member_page}/keys/{key.id}/revoke",
            org_page(theirs, "alerts", rule.id, "delete"),
            # Their member under my organization's address is no more found.
            org_page(mine, "members", their_member.user_id),
            org_page(mine, "alerts", rule.id, "delete"),
        ):
            status, html = await fetch(http, gateway.url + path)
            assert status == 404, (path, status)
            assert "theirs" not in html
        for action, fields in (
            (org_page(theirs, "members"), {"email": "intruder@example.com", "role": "user"}),
            (f"{member_page}/role", {"role": "org_admin"}),
            (f"{member_page}/state", {"disabled": "yes"}),
            (f"{member_page}/limits", {"rpm": "1"}),
            (f"{member_page}/keys/{key.id}/revoke", {}),
            (org_page(mine, "members", their_member.user_id, "state"), {"disabled": "yes"}),
            (org_page(theirs, "limits"), {"rpm": "1"}),
            (org_page(theirs, "alerts"), {"kind": "cost", "threshold": "1"}),
            (org_page(theirs, "alerts", rule.id, "enabled"), {"enabled": "no"}),
            (org_page(theirs, "alerts", rule.id, "delete"), {}),
            (org_page(mine, "alerts", rule.id, "delete"), {}),
        ):
            status, _, _ = await submit(http, gateway.url, org_page(mine), action, fields)
            assert status == 404, (action, status)
        # Only operators change thresholds, whoever's organization it is.
        status, _, _ = await submit(
            http,
            gateway.url,
            org_page(mine),
            org_page(theirs, "limits", "threshold"),
            {"low_balance_threshold": "1"},
        )
        assert status == 403
    assert await user_count(backend, theirs.org_id) == before
    async with backend.engine.connect() as conn:
        member = await accounts.get_user(conn, their_member.user_id)
        assert (member.role, member.disabled) == ("user", False)
        assert (await accounts.get_key(conn, key.id)).revoked_at is None
        assert (await alerts.get_rule(conn, rule.id)).enabled
        assert await get_limits(conn, Subject(SubjectKind.USER, member.id)) == LimitSet()
        assert await get_limits(conn, Subject(SubjectKind.ORG, theirs.org_id)) == LimitSet()


async def test_a_form_without_the_sessions_token_changes_nothing(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    member = await colleague(backend, admin)
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        async with http.post(
            gateway.url + org_page(admin, "members", member.user_id, "state"),
            data={"disabled": "yes"},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 403
    async with backend.engine.connect() as conn:
        assert not (await accounts.get_user(conn, member.user_id)).disabled


async def test_every_organization_page_speaks_simplified_chinese(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    member = await colleague(backend, admin, name="Lin")
    async with backend.engine.begin() as conn:
        key, _ = await accounts.create_key(conn, member.email, name="k")
        rule = await alerts.create_rule(
            conn, admin.org_id, RuleSettings(AlertKind.ERROR_RATE, "0.05", min_requests=3)
        )
    member_page = org_page(admin, "members", member.user_id)
    expected = {
        org_page(admin): "本月各成员花费",
        org_page(admin, "members"): "添加成员",
        member_page: "角色与访问",
        f"{member_page}/keys/{key.id}/revoke": "吊销 Lin 的密钥“k”",
        org_page(admin, "limits"): "余额不足通知",
        org_page(admin, "alerts"): "至少 3 次请求",
        org_page(admin, "alerts", rule.id, "delete"): "删除告警规则",
    }
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        async with backend.engine.begin() as conn:
            await conn.execute(
                users.update().where(users.c.id == admin.user_id).values(language="zh-Hans")
            )
        for path, text in expected.items():
            status, html = await fetch(http, gateway.url + path)
            assert status == 200, (path, status)
            assert text in html, path


async def test_the_members_list_comes_in_pages_and_operators_see_any_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    operator = await console_person(backend.engine, role=Role.OPERATOR)
    async with backend.engine.begin() as conn:
        org = await accounts.get_org(conn, admin.org_id)
        for number in range(50):
            await accounts.create_user(
                conn, f"many-{number}-{secrets.token_hex(3)}@example.com", org.name
            )
    members = org_page(admin, "members")
    for person in (admin, operator):
        async with http_session() as http:
            await sign_in_over_http(http, gateway.url, person.email)
            status, first = await fetch(http, gateway.url + members)
            assert status == 200 and "51 members" in first
            assert first.count("<tr>") == 51  # the header and 50 members
            assert f'href="{members}?page=2" rel="next"' in first
            status, second = await fetch(http, gateway.url + members + "?page=2")
            assert status == 200 and second.count("<tr>") == 2
            assert f'href="{members}?page=1" rel="prev"' in second and 'rel="next"' not in second
