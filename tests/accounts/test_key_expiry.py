"""A key's owner hears once, some days ahead, that it expires; keys further out, revoked
or without an expiry are left alone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from aisonar.accounts import services as accounts
from aisonar.accounts.expiry import notice_expiring_keys
from aisonar.clock import utcnow
from aisonar.store.tables import notices
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import make_org
from tests.mailbox import Mailbox, bodies
from tests.support import Backend

WEEK = timedelta(days=7)


async def test_an_owner_hears_once_that_their_key_expires_soon(
    gateway: RunningGateway, backend: Backend, mailbox: Mailbox
) -> None:
    org = await make_org(backend.engine)
    email, now = org.member.email, utcnow()
    async with backend.engine.begin() as conn:
        soon, _ = await accounts.create_key(
            conn, email, name="soon", expires_at=now + timedelta(days=3)
        )
        await accounts.create_key(conn, email, name="later", expires_at=now + timedelta(days=30))
        revoked, _ = await accounts.create_key(
            conn, email, name="gone", expires_at=now + timedelta(days=1)
        )
        await accounts.revoke_key(conn, revoked.id)
        assert await notice_expiring_keys(conn, now, WEEK) >= 1
        assert await notice_expiring_keys(conn, now, WEEK) == 0
        found = list(
            await conn.execute(
                select(notices.c.data).where(
                    notices.c.org_id == org.id, notices.c.kind == "key_expiring"
                )
            )
        )
    assert [row.data["name"] for row in found] == ["soon"]
    assert found[0].data["key_id"] == soon.id
    expiring = await mailbox.wait_for_subject(email, "API key expiring soon")
    assert 'Your API key "soon"' in bodies(expiring)[0]
