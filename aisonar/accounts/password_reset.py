"""Resetting a forgotten password with a token mailed to the account's address.

Anyone may ask for an address; only an active account that already has a password gets
a token (256 random bits, URL-safe, stored only as a hash, good once and for an hour; a
newer request deletes the person's unused ones). An account without a password was
given access tokens only, on purpose: an email must not give it a way to sign in that
an operator never chose. Using the token sets the new password (checked like every
other), ends every session of the person, and tells them.

The same confirmation takes an invitation's token (`accounts/invitations.py`): it sets
the first password of a member invited without one, and is audited as
`user.invitation_accepted`; a reset's token never gives an account without a password
one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.invitations import INVITATION, RESET
from aisonar.accounts.invitations import TOKEN_PREFIX as INVITATION_PREFIX
from aisonar.accounts.keys import generate_key_secret, hash_key
from aisonar.accounts.passwords import hash_password
from aisonar.accounts.sessions import end_other_sessions
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.config import Settings
from aisonar.errors import InvalidInput
from aisonar.i18n import N_, Language
from aisonar.notify.direct import Recipient
from aisonar.notify.notices import PASSWORD_CHANGED, record_notice
from aisonar.store.tables import organizations, password_resets, users

TOKEN_PREFIX = "sonar-reset-"
TOKEN_LIFETIME = timedelta(hours=1)
# Where the console takes the token, under the server's public URL.
RESET_PAGE = "/console/reset-password"


def reset_link(settings: Settings, token: str) -> str | None:
    """The console's password page with the token, where the server knows its public URL."""
    return f"{settings.public_url}{RESET_PAGE}?token={token}" if settings.public_url else None


@dataclass(frozen=True)
class ResetMailed:
    """The message to send: the token, to the account's own address."""

    recipient: Recipient
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class PasswordReset:
    user_id: str
    sessions_ended: int
    # An invitation's token: the person chose their first password.
    first_password: bool = False


def _person() -> Any:
    return select(
        users.c.id,
        users.c.email,
        users.c.name,
        users.c.org_id,
        users.c.password_hash,
        users.c.disabled_at,
        users.c.language,
        organizations.c.name.label("org_name"),
    ).join(organizations, organizations.c.id == users.c.org_id)


async def request_password_reset(
    conn: AsyncConnection, email: str, ip: str | None
) -> ResetMailed | None:
    """A new token for the active account with this address and a password, replacing
    its unused ones (audited); None for any other address (the caller answers alike)."""
    person = (
        await conn.execute(
            # Locked, so that two requests at once leave one token, not two.
            _person().where(users.c.email == email.strip().lower()).with_for_update()
        )
    ).first()
    if person is None or person.disabled_at is not None or person.password_hash is None:
        return None
    await conn.execute(
        delete(password_resets).where(
            password_resets.c.user_id == person.id,
            password_resets.c.purpose == RESET,
            password_resets.c.used_at.is_(None),
        )
    )
    secret = generate_key_secret(TOKEN_PREFIX)
    now = utcnow()
    await conn.execute(
        insert(password_resets).values(
            id=new_id("pwr"),
            user_id=person.id,
            token_hash=secret.key_hash,
            created_at=now,
            expires_at=now + TOKEN_LIFETIME,
            requested_ip=ip,
            purpose=RESET,
        )
    )
    await audit.record(
        conn,
        Actor(person.email, person.id, ip),
        "user.password_reset_requested",
        object_kind="user",
        object_id=person.id,
        org_id=person.org_id,
    )
    recipient = Recipient(person.name, person.email, Language(person.language), person.org_name)
    return ResetMailed(recipient, secret.secret, now + TOKEN_LIFETIME)


async def _claimable(conn: AsyncConnection, token: str) -> Any:
    """The token's row, if it can still be used; else a clear InvalidInput."""
    row = (
        await conn.execute(
            select(password_resets).where(password_resets.c.token_hash == hash_key(token))
        )
    ).first()
    if row is None and token.startswith(INVITATION_PREFIX):
        raise InvalidInput(
            N_("the invitation is unknown, or was replaced by a newer invitation"), param="token"
        )
    if row is None:
        raise InvalidInput(
            N_("the reset token is unknown, or was replaced by a newer request"), param="token"
        )
    invitation = row.purpose == INVITATION
    if row.used_at is not None:
        if invitation:
            raise InvalidInput(
                N_("the invitation was already used: sign in with the password chosen"),
                param="token",
            )
        raise InvalidInput(N_("the reset token was already used"), param="token")
    if as_utc(row.expires_at) <= utcnow():
        if invitation:
            raise InvalidInput(
                N_("the invitation has expired; ask your organization's admins for a new one"),
                param="token",
            )
        raise InvalidInput(N_("the reset token has expired; ask for a new one"), param="token")
    return row


async def reset_password(
    conn: AsyncConnection, token: str, new_password: str, ip: str | None
) -> PasswordReset:
    """Set the password of the token's person (if it is strong enough) and use the token
    up; every session of theirs ends; audited and told. Bad input changes nothing."""
    claim = await _claimable(conn, token)
    invitation = claim.purpose == INVITATION
    person = (await conn.execute(_person().where(users.c.id == claim.user_id))).one()
    if invitation and person.password_hash is not None:
        raise InvalidInput(
            N_("the account of this invitation already has a password: sign in with it"),
            param="token",
        )
    if person.disabled_at is not None or (person.password_hash is None and not invitation):
        raise InvalidInput(N_("the account of this reset token cannot sign in"), param="token")
    try:
        # An invitation's, like a password given when the account is created.
        user_inputs = [person.email, person.name, *([person.org_name] if invitation else [])]
        new_hash = hash_password(new_password, user_inputs=user_inputs)
    except InvalidInput as error:
        raise InvalidInput(error.template, param="new_password", **error.values) from None
    now = utcnow()
    claimed = await conn.execute(
        update(password_resets)
        .where(password_resets.c.id == claim.id, password_resets.c.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise InvalidInput(N_("the reset token was already used"), param="token")
    await conn.execute(update(users).where(users.c.id == person.id).values(password_hash=new_hash))
    ended = await end_other_sessions(conn, person.id, None)
    if invitation:
        # Their first password, chosen by themselves: nothing to warn them of.
        await audit.record(
            conn,
            Actor(person.email, person.id, ip),
            "user.invitation_accepted",
            object_kind="user",
            object_id=person.id,
            org_id=person.org_id,
            changes={"password_set": [False, True]},
        )
        return PasswordReset(person.id, ended, first_password=True)
    await audit.record(
        conn,
        Actor(person.email, person.id, ip),
        "user.password_reset",
        object_kind="user",
        object_id=person.id,
        org_id=person.org_id,
        changes={"password_set": [True, True], "sessions_ended": [None, ended]},
    )
    await record_notice(
        conn,
        person.org_id,
        PASSWORD_CHANGED,
        {"sessions_ended": ended, "by_reset": True},
        user_id=person.id,
    )
    return PasswordReset(person.id, ended)
