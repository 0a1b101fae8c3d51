"""Email notices over real SMTP: the notifier sends each notice to the people it
concerns, in their language, as plain text and HTML; honours opt-outs except for security
notices; retries a mailbox that is busy and gives up on one that does not exist."""

from __future__ import annotations

from sqlalchemy import insert

from aisonar.store.tables import notice_opt_outs
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_operator, make_org
from tests.mailbox import Mailbox, bodies
from tests.notify.deliveries import deliveries_of, settled
from tests.support import Backend


async def test_a_new_key_is_mailed_to_its_owner_as_text_and_html(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    member = Api(gateway.url, org.member.token)
    await member.post("/api/me/keys", {"name": "<b>ci</b> & co"})
    message = await mailbox.wait_for_subject(org.member.email, "New API key created", "ci</b>")
    assert message["To"] == f"Test <{org.member.email}>"
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = bodies(message)
    assert 'A new API key "<b>ci</b> & co"' in text and org.name in text
    assert "&lt;b&gt;ci&lt;/b&gt; &amp; co" in html and "<b>ci</b>" not in html
    assert "Security notices are always sent" in text
    # Nobody else in the organization hears of it.
    assert all("ci</b>" not in bodies(m)[0] for m in mailbox.messages_to(org.admin.email))


async def test_notices_are_mailed_in_the_language_the_person_chose(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    member = Api(gateway.url, org.member.token)
    await member.call("PATCH", "/api/me/notification-settings", {"language": "zh-Hans"})
    await member.post("/api/me/keys", {"name": "中文"})
    message = await mailbox.wait_for_subject(org.member.email, "已新建 API 密钥", "中文")
    text, html = bodies(message)
    assert "您的账户新建了 API 密钥“中文”" in text and "您好" in text
    assert '<html lang="zh-Hans">' in html and "安全通知总会发送" in html


async def test_organization_notices_reach_its_admins_unless_they_opted_out(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "5"})
    message = await mailbox.wait_for_subject(org.admin.email, "Recharge received")
    assert "5.00 USD was added to your organization's balance" in bodies(message)[0]
    # The member is no admin: their only mail is about their own key.
    await mailbox.wait_for_subject(org.member.email, "New API key created")
    assert len(mailbox.messages_to(org.member.email)) == 1

    admin = Api(gateway.url, org.admin.token)
    off = {"kinds": {"recharge_received": {"email": False}}}
    assert (await admin.call("PATCH", "/api/me/notification-settings", off)).status == 200
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "7"})
    rows = await deliveries_of(backend.engine, org.id, "recharge_received")
    assert len(rows) == 1  # the first recharge's only
    recharges = [m for m in mailbox.messages_to(org.admin.email) if "Recharge" in m["Subject"]]
    assert len(recharges) == 1
    # Still in the inbox.
    inbox = (await admin.get("/api/me/notices")).body
    assert [n["data"]["amount"] for n in inbox if n["kind"] == "recharge_received"] == [
        "7.00",
        "5.00",
    ]


async def test_security_notices_go_out_whatever_was_opted_out(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    # The API refuses this opt-out; a row left in the database must not silence it either.
    async with backend.engine.begin() as conn:
        await conn.execute(
            insert(notice_opt_outs).values(
                user_id=org.member.user_id, kind="key_revoked", channel="email"
            )
        )
    await Api(gateway.url, org.member.token).delete(f"/api/keys/{org.member.key_id}")
    await mailbox.wait_for_subject(org.member.email, "API key revoked")


async def test_a_busy_mailbox_is_retried_and_a_missing_one_given_up(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    busy, missing = await make_org(backend.engine), await make_org(backend.engine)
    # Their first key's mail is through before the mailboxes turn difficult.
    await mailbox.wait_for(busy.member.email)
    await mailbox.wait_for(missing.member.email)
    mailbox.busy[busy.member.email] = 2
    mailbox.refused.add(missing.member.email)
    for org in (busy, missing):
        await Api(gateway.url, org.member.token).post("/api/me/keys", {"name": "again"})

    await mailbox.wait_for(busy.member.email, 2)
    retried = [r for r in await settled(backend.engine, busy.id, "key_created") if r.user_id]
    again = max(retried, key=lambda row: row.id)
    assert (again.status, again.attempts) == ("delivered", 3)
    assert again.last_error is None

    given_up = [r for r in await settled(backend.engine, missing.id, "key_created") if r.user_id]
    refused = max(given_up, key=lambda row: row.id)
    assert (refused.status, refused.attempts, refused.last_status_code) == ("failed", 1, 550)
    assert len(mailbox.messages_to(missing.member.email)) == 1
