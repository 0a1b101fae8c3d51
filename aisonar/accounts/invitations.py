"""Inviting a member by email: a token mailed to a member who has no password yet, with
which they choose their first one on the console's password page (the same page and
`POST /api/password-reset/confirm` as a forgotten password).

The token is `sonar-invite-` plus 256 random bits, kept in `password_resets` (purpose
`invitation`) only as a hash, good once and for 7 days; a new invitation deletes the
person's unused one, so each person has at most one. Only an active member without a
password can be invited: one with a password signs in, or resets it. Audited as
`user.invited`, with the inviter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.keys import generate_key_secret, hash_key
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.errors import InvalidInput
from aisonar.i18n import N_, Language
from aisonar.notify.direct import Recipient
from aisonar.store.tables import organizations, password_resets, users

TOKEN_PREFIX = "sonar-invite-"
TOKEN_LIFETIME = timedelta(days=7)
# `password_resets.purpose` of each kind of token.
RESET = "reset"
INVITATION = "invitation"


@dataclass(frozen=True)
class InvitationMailed:
    """The invitation to send: the token, to the member's own address, in their language."""

    recipient: Recipient
    user_id: str
    token: str
    expires_at: datetime
    # Who invited them, as the mail names them (their name, else their address).
    inviter: str
    role: str


def _person() -> Any:
    return select(
        users.c.id,
        users.c.email,
        users.c.name,
        users.c.role,
        users.c.org_id,
        users.c.password_hash,
        users.c.disabled_at,
        users.c.language,
        organizations.c.name.label("org_name"),
    ).join(organizations, organizations.c.id == users.c.org_id)


async def invite(
    conn: AsyncConnection, user_id: str, inviter_id: str | None, actor: Actor
) -> InvitationMailed:
    """A new invitation token for the member (active, without a password), replacing
    their unused one; audited with the inviter. The caller has checked that the inviter
    may manage the member."""
    person = (
        # Locked, so that two invitations at once leave one token, not two.
        await conn.execute(_person().where(users.c.id == user_id).with_for_update())
    ).one()
    if person.password_hash is not None:
        raise InvalidInput(
            N_(
                "{email} already has a password: they sign in with it, or reset it if it "
                "is forgotten; an invitation is only for a member without one."
            ),
            email=person.email,
        )
    if person.disabled_at is not None:
        raise InvalidInput(
            N_("{email} is disabled: enable them before inviting them."), email=person.email
        )
    inviter = person.email
    if inviter_id is not None:
        found = (
            await conn.execute(select(users.c.name, users.c.email).where(users.c.id == inviter_id))
        ).first()
        if found is not None:
            inviter = found.name or found.email
    replaced = await conn.execute(
        delete(password_resets).where(
            password_resets.c.user_id == person.id,
            password_resets.c.purpose == INVITATION,
            password_resets.c.used_at.is_(None),
        )
    )
    secret = generate_key_secret(TOKEN_PREFIX)
    now = utcnow()
    expires_at = now + TOKEN_LIFETIME
    await conn.execute(
        insert(password_resets).values(
            id=new_id("pwr"),
            user_id=person.id,
            token_hash=secret.key_hash,
            created_at=now,
            expires_at=expires_at,
            requested_ip=actor.ip,
            purpose=INVITATION,
        )
    )
    await audit.record(
        conn,
        actor,
        "user.invited",
        object_kind="user",
        object_id=person.id,
        org_id=person.org_id,
        changes={
            "invitation_expires_at": [None, expires_at.isoformat()],
            "invitations_replaced": [None, replaced.rowcount],
        },
    )
    recipient = Recipient(
        person.name or person.email, person.email, Language(person.language), person.org_name
    )
    return InvitationMailed(recipient, person.id, secret.secret, expires_at, inviter, person.role)


@dataclass(frozen=True)
class Invited:
    """Whom an invitation's token is for, as the page that takes it greets them."""

    email: str
    org_name: str


async def invited_by(conn: AsyncConnection, token: str) -> Invited | None:
    """The person an invitation's token was mailed to, whether it still works or not;
    None for any other token (a reset's, or one never issued or since replaced)."""
    if not token:
        return None
    found = (
        await conn.execute(
            select(users.c.email, organizations.c.name.label("org_name"))
            .select_from(password_resets)
            .join(users, users.c.id == password_resets.c.user_id)
            .join(organizations, organizations.c.id == users.c.org_id)
            .where(
                password_resets.c.token_hash == hash_key(token),
                password_resets.c.purpose == INVITATION,
            )
        )
    ).first()
    return None if found is None else Invited(found.email, found.org_name)


async def pending_invitations(conn: AsyncConnection, user_ids: list[str]) -> dict[str, datetime]:
    """Until when each of these people's unused invitation works (expired ones
    included), for those who have one."""
    if not user_ids:
        return {}
    rows = await conn.execute(
        select(password_resets.c.user_id, password_resets.c.expires_at).where(
            password_resets.c.user_id.in_(user_ids),
            password_resets.c.purpose == INVITATION,
            password_resets.c.used_at.is_(None),
        )
    )
    return {row.user_id: as_utc(row.expires_at) for row in rows}
