"""What the email change tests share: people with a password (and an access token), the
code read from the mail that carries it, and the audit entries of a person."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.accounts import tokens
from aisonar.store.roles import Role
from aisonar.store.tables import audit_log, email_changes
from tests.api.test_sessions import PASSWORD
from tests.mailbox import Mailbox, bodies

CODE = re.compile(r"sonar-email-[A-Za-z0-9_-]{43}")
CODE_SUBJECT = "Confirm your new email address"
TAKEN_SUBJECT = "Your email address was asked for another account"
CHANGED_SUBJECT = "Your email address was changed"


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    org_id: str
    org_name: str
    token: str


async def member_with_password(engine: AsyncEngine, role: Role = Role.USER) -> Member:
    org = f"em-{secrets.token_hex(4)}"
    email = f"{org}@example.com"
    async with engine.begin() as conn:
        await accounts.create_org(conn, org)
        user = await accounts.create_user(
            conn, email, org, name="Ada", role=role, password=PASSWORD
        )
        _, token = await tokens.create_token(conn, email, name="tests")
    return Member(user.id, email, user.org_id, org, token)


def fresh_address() -> str:
    return f"new-{secrets.token_hex(5)}@example.net"


def code_in(mailbox: Mailbox, address: str) -> str:
    """The code of the latest confirmation mailed to the address (sent before the
    request answered, so it is already there)."""
    [*_, message] = [m for m in mailbox.messages_to(address) if m["Subject"] == CODE_SUBJECT]
    text, html = bodies(message)
    codes: set[str] = set(CODE.findall(text))
    [code] = codes
    assert code in html
    return code


async def audit_entries(engine: AsyncEngine, user_id: str, *actions: str) -> list[Any]:
    async with engine.connect() as conn:
        query = select(audit_log).where(
            audit_log.c.object_id == user_id, audit_log.c.action.in_(actions)
        )
        return list(await conn.execute(query.order_by(audit_log.c.id)))


async def pending_change(engine: AsyncEngine, user_id: str) -> Any:
    async with engine.connect() as conn:
        query = select(email_changes).where(email_changes.c.user_id == user_id)
        return (await conn.execute(query)).first()
