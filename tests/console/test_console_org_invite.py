"""Inviting a member from the console's members page: the add-member form emails an
invitation by default when this server sends email (the first password typed is then
ignored), the member shows as invited with a button that sends a new invitation, the
mailed link opens "Choose your password", and the person signs in with the password they
chose. Without email, the form says so and an invitation is refused, creating nothing;
another organization's admin reaches none of it."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from playwright.async_api import Browser
from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.accounts.models import User
from aisonar.store.roles import Role
from aisonar.store.tables import users
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.test_invitations import TOKEN, token_in
from tests.api.test_password_reset import stored
from tests.console.forms import fetch, http_session
from tests.console.operators import audited
from tests.console.people import (
    MARKUP,
    PASSWORD,
    browsing,
    browsing_as,
    console_person,
    csrf_token_in,
    screenshot,
    sign_in_over_http,
)
from tests.console.test_console_org import org_page, submit
from tests.mailbox import Mailbox, bodies
from tests.support import Backend

CHOSEN = "Juniper-Falcon-Meadow-64"
LINK = re.compile(r"https://sonar\.example\.com/console/reset-password\?token=\S+")


def fresh_address() -> str:
    return f"invitee-{secrets.token_hex(5)}@example.com"


async def user_by_email(backend: Backend, email: str) -> User | None:
    async with backend.engine.connect() as conn:
        found = (await conn.execute(select(users.c.id).where(users.c.email == email))).first()
        return None if found is None else await accounts.get_user(conn, found.id)


async def test_an_admin_invites_a_member_who_chooses_a_password_and_signs_in(
    browser: Browser, backend: Backend, mailbox: Mailbox
) -> None:
    admin = await console_person(backend.engine, name="Grace Admin", role=Role.ORG_ADMIN)
    email = fresh_address()
    # The mail links under the public URL; the browser follows its path and query here.
    settings = backend.settings.model_copy(update={"public_url": "https://sonar.example.com"})
    async with running_gateway(settings) as gateway:
        home = f"{gateway.url}/console/orgs/{admin.org_id}"
        async with browsing_as(browser, gateway.url, admin.email, locale="en-US") as seen:
            page = seen.page
            await page.goto(home + "/members")
            assert await page.locator("#member-invite").is_checked()
            label = await page.locator("label[for=member-password]").text_content() or ""
            assert "ignored when an invitation is emailed" in label
            await page.fill("#member-email", email)
            await page.fill("#member-name", MARKUP)
            # Typed, but ignored: the invitation is what they get.
            await page.fill("#member-password", PASSWORD)
            await screenshot(page, "org-invite-members")
            await page.click("form[action$='/members'] button[type=submit]")
            added = await user_by_email(backend, email)
            assert added is not None and not added.password_set
            await page.wait_for_url(f"{home}/members/{added.id}")
            assert await page.locator("h1").text_content() == MARKUP
            assert await page.locator("#member-state").text_content() == "invited"
            assert "works until" in (await page.locator("#invitation-state").text_content() or "")
            assert await page.locator("#invite-form button").text_content() == (
                "Send the invitation again"
            )
            await screenshot(page, "org-invite-member")

            [message] = await mailbox.wait_for(email)
            assert message["Subject"] == f"You are invited to {added.org_name} on AI Sonar"
            text, _ = bodies(message)
            assert "Grace Admin invited you to join" in text
            [link] = LINK.findall(text)
            parts = urlsplit(link)

            async with browsing(browser, locale="en-US") as welcomed:
                invitee = welcomed.page
                await invitee.goto(f"{gateway.url}{parts.path}?{parts.query}")
                assert await invitee.locator("h1").text_content() == "Choose your password"
                assert await invitee.title() == "Choose your password · AI Sonar"
                welcome = await invitee.locator("#invitation-welcome").text_content() or ""
                assert added.org_name in welcome and email in welcome
                await invitee.fill("#new-password", CHOSEN)
                await invitee.fill("#repeat-password", CHOSEN)
                await screenshot(invitee, "org-invite-choose-password")
                await invitee.click("#new-password-form button[type=submit]")
                await invitee.wait_for_url(gateway.url + "/console/sign-in?reset=welcome")
                assert await invitee.locator("#invitation-done").is_visible()
                await invitee.fill("#email", email)
                await invitee.fill("#password", CHOSEN)
                await invitee.click("form.stacked button[type=submit]")
                await invitee.wait_for_url(gateway.url + "/console")
                assert await invitee.locator(".who").is_visible()
            assert welcomed.errors == []

            # Now they have a password: active, and nothing to invite them to.
            await page.reload()
            assert await page.locator("#member-state").text_content() == "active"
            assert await page.locator("#invitation").count() == 0
            assert await page.locator("img[src=x]").count() == 0
        assert seen.errors == []
    [accepted] = await audited(backend, "user.invitation_accepted", added.id)
    assert accepted.actor == email


async def test_the_invitation_is_sent_again_from_the_members_page(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    members = org_page(admin, "members")
    email = fresh_address()
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, gateway.url + members)
        assert status == 200 and 'id="member-invite" name="invite" value="yes" checked' in html

        # Bad input creates nobody and keeps the choice.
        fields = {"email": "not an address", "name": "Typed", "role": "user", "invite": "yes"}
        status, _, html = await submit(http, gateway.url, members, members, fields)
        assert status == 400 and 'value="Typed"' in html and 'value="yes" checked' in html
        fields = {"email": email, "role": "user", "invite": "yes", "password": PASSWORD}
        status, target, _ = await submit(http, gateway.url, members, members, fields)
        assert status == 303
        added = await user_by_email(backend, email)
        assert added is not None and target == org_page(admin, "members", added.id)
        # The password typed beside the invitation was ignored.
        assert not added.password_set
        first = await token_in(mailbox, email)
        [invited] = await audited(backend, "user.invited", added.id)
        assert invited.actor_user_id == admin.user_id

        status, html = await fetch(http, gateway.url + members)
        row = next(r for r in html.split("<tr>") if email in r)
        assert ">invited<" in row
        status, html = await fetch(http, gateway.url + target)
        assert status == 200 and 'id="invite-form"' in html and ">invited<" in html

        # Without the session's token, nothing is sent.
        async with http.post(
            gateway.url + target + "/invite", data={"csrf_token": "x"}, allow_redirects=False
        ) as answer:
            assert answer.status == 403
        assert len(mailbox.messages_to(email)) == 1

        status, location, _ = await submit(http, gateway.url, target, target + "/invite", {})
        assert (status, location) == (303, target + "?invitation=sent")
        second = await token_in(mailbox, email, 2)
        assert second != first and TOKEN.fullmatch(second)
        status, html = await fetch(http, gateway.url + location)
        assert 'id="invitation-sent"' in html
        [row] = await stored(backend, added.id)
        assert row.purpose == "invitation"

        # The replaced link no longer works; the new one opens "Choose your password".
        status, html = await fetch(http, f"{gateway.url}/console/reset-password?token={first}")
        assert status == 200 and "Choose your password" not in html
        status, html = await fetch(http, f"{gateway.url}/console/reset-password?token={second}")
        assert status == 200 and "<h1>Choose your password</h1>" in html

    # In Chinese, for a visitor whose browser asks for it.
    async with http_session() as http:
        async with http.get(
            f"{gateway.url}/console/reset-password?token={second}",
            headers={"Accept-Language": "zh-CN"},
        ) as answer:
            assert "<h1>设置您的密码</h1>" in await answer.text()
        form = {"csrf_token": "", "token": second, "new_password": CHOSEN}
        async with http.post(
            gateway.url + "/console/reset-password/confirm",
            data={**form, "repeat_password": CHOSEN + "?"},
            allow_redirects=False,
        ) as answer:
            html = await answer.text()
            assert answer.status == 400 and "<h1>Choose your password</h1>" in html
        async with http.post(
            gateway.url + "/console/reset-password/confirm",
            data={**form, "repeat_password": CHOSEN},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303
            assert answer.headers["location"] == "/console/sign-in?reset=welcome"
    changed = await user_by_email(backend, email)
    assert changed is not None and changed.password_set


async def test_another_organizations_admin_can_neither_invite_nor_resend(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    mine = await console_person(backend.engine, role=Role.ORG_ADMIN)
    theirs = await console_person(backend.engine, role=Role.ORG_ADMIN)
    email = fresh_address()
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, theirs.email)
        fields = {"email": email, "role": "user", "invite": "yes"}
        their_members = org_page(theirs, "members")
        assert (await submit(http, gateway.url, their_members, their_members, fields))[0] == 303
    invited = await user_by_email(backend, email)
    assert invited is not None
    await token_in(mailbox, email)
    intruder = fresh_address()
    async with http_session() as http:
        await sign_in_over_http(http, gateway.url, mine.email)
        _, html = await fetch(http, gateway.url + org_page(mine, "members"))
        token = csrf_token_in(html)
        for action, fields in (
            (org_page(theirs, "members"), {"email": intruder, "invite": "yes"}),
            (org_page(theirs, "members", invited.id, "invite"), {}),
            # Their member, reached through my organization's pages.
            (org_page(mine, "members", invited.id, "invite"), {}),
        ):
            async with http.post(
                gateway.url + action, data={"csrf_token": token, **fields}, allow_redirects=False
            ) as answer:
                assert answer.status == 404, action
                assert email not in await answer.text()
    assert await user_by_email(backend, intruder) is None
    assert len(mailbox.messages_to(email)) == 1 and mailbox.messages_to(intruder) == []
    assert len(await audited(backend, "user.invited", invited.id)) == 1


async def test_without_email_the_form_says_so_and_an_invitation_creates_nothing(
    backend: Backend, mailbox: Mailbox
) -> None:
    admin = await console_person(backend.engine, role=Role.ORG_ADMIN)
    async with backend.engine.begin() as conn:
        org = await accounts.get_org(conn, admin.org_id)
        keys_only = await accounts.create_user(conn, fresh_address(), org.name)
    members = org_page(admin, "members")
    email = fresh_address()
    settings = backend.settings.model_copy(update={"smtp_url": ""})
    async with running_gateway(settings) as gateway, http_session() as http:
        await sign_in_over_http(http, gateway.url, admin.email)
        status, html = await fetch(http, gateway.url + members)
        assert status == 200 and 'id="no-invitations"' in html and "member-invite" not in html
        fields = {"email": email, "name": "Nobody", "role": "user", "invite": "yes"}
        status, _, html = await submit(http, gateway.url, members, members, fields)
        assert status == 403 and "AISONAR_SMTP_URL" in html and 'value="Nobody"' in html
        member_page = org_page(admin, "members", keys_only.id)
        status, html = await fetch(http, gateway.url + member_page)
        assert "use only the API keys" in html and 'id="no-invitations"' in html
        assert 'id="invite-form"' not in html
        status, _, html = await submit(http, gateway.url, member_page, member_page + "/invite", {})
        assert status == 403 and "AISONAR_SMTP_URL" in html and 'role="alert"' in html
    assert await user_by_email(backend, email) is None
    assert await stored(backend, keys_only.id) == []
    assert mailbox.messages_to(email) == [] and mailbox.messages_to(keys_only.email) == []
