"""Changing a person's email address, their sign-in name and where their notices go.

People ask for it themselves, confirming with their current password; nothing changes
until they send back the code mailed to the new address (256 random bits, stored only as
a hash, good once and for 24 hours, replaced by any newer request). An address that
already belongs to someone is answered the same way, but its holder is told instead and
no code can take it. An operator changes an address at once. Either way the person's
other sessions end and both the previous and the new address hear of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.directory import get_user, validate_email
from aisonar.accounts.keys import generate_key_secret, hash_key
from aisonar.accounts.models import User
from aisonar.accounts.passwords import verify_password
from aisonar.accounts.sessions import end_other_sessions
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, utcnow
from aisonar.errors import AISonarError, AlreadyExists, InvalidInput
from aisonar.i18n import N_, Language
from aisonar.notify.direct import Recipient
from aisonar.notify.notices import EMAIL_CHANGED, record_notice
from aisonar.store.tables import email_changes, organizations, users

CODE_PREFIX = "sonar-email-"
CODE_LIFETIME = timedelta(hours=24)


class PasswordRequired(AISonarError):
    """A person without a password (access tokens only) cannot prove it is them."""

    status = 403
    kind = "permission_error"
    code = "password_required"

    def __init__(self) -> None:
        super().__init__(
            N_(
                "Your account has no password to confirm the change with; ask an operator to "
                "change your email address."
            )
        )


@dataclass(frozen=True)
class EmailChangeRequested:
    email: str
    expires_at: datetime
    # Who the message goes to, at the new address: the person, with the code; or, when
    # the address is someone else's, its holder, told that nothing changed (code None).
    recipient: Recipient
    code: str | None


def _person() -> Any:
    return select(
        users.c.id,
        users.c.email,
        users.c.name,
        users.c.org_id,
        users.c.password_hash,
        users.c.language,
        organizations.c.name.label("org_name"),
    ).join(organizations, organizations.c.id == users.c.org_id)


def _recipient(row: Any, address: str) -> Recipient:
    return Recipient(row.name, address, Language(row.language), row.org_name)


async def _replace_pending(
    conn: AsyncConnection, user_id: str, email: str, token_hash: str, now: datetime
) -> None:
    """The person's pending change is this one now: one statement, so that two requests
    at once leave one of them, never an error."""
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    pending = {
        "email": email,
        "token_hash": token_hash,
        "created_at": now,
        "expires_at": now + CODE_LIFETIME,
    }
    await conn.execute(
        insert(email_changes)
        .values(user_id=user_id, **pending)
        .on_conflict_do_update(index_elements=[email_changes.c.user_id], set_=pending)
    )


async def request_email_change(
    conn: AsyncConnection,
    user_id: str,
    email: str,
    password: str | None,
    *,
    actor: Actor = SYSTEM,
) -> EmailChangeRequested:
    """Check the password and the address, and replace the person's pending change with
    one to `email`; returns the message to send to the new address."""
    new_email = validate_email(email)
    person = (await conn.execute(_person().where(users.c.id == user_id))).one()
    if person.password_hash is None:
        raise PasswordRequired()
    if password is None or not verify_password(person.password_hash, password):
        raise InvalidInput(N_("the current password is wrong"), param="password")
    if new_email == person.email:
        raise InvalidInput(N_("that is already your email address"), param="email")
    holder = (await conn.execute(_person().where(users.c.email == new_email))).first()
    secret = generate_key_secret(CODE_PREFIX)
    now = utcnow()
    await _replace_pending(conn, user_id, new_email, secret.key_hash, now)
    await audit.record(
        conn,
        actor,
        "user.email_change_request",
        object_kind="user",
        object_id=user_id,
        org_id=person.org_id,
        changes={"requested_email": [None, new_email]},
    )
    if holder is not None:
        return EmailChangeRequested(
            new_email, now + CODE_LIFETIME, _recipient(holder, new_email), None
        )
    return EmailChangeRequested(
        new_email, now + CODE_LIFETIME, _recipient(person, new_email), secret.secret
    )


async def confirm_email_change(
    conn: AsyncConnection,
    user_id: str,
    code: str,
    *,
    keep_session: str | None,
    actor: Actor = SYSTEM,
) -> User:
    """Change the person's address to the one their pending change was mailed to, if
    `code` is that change's; the change is used up."""
    pending = (
        await conn.execute(
            delete(email_changes)
            .where(email_changes.c.user_id == user_id, email_changes.c.token_hash == hash_key(code))
            .returning(email_changes.c.email, email_changes.c.expires_at)
        )
    ).first()
    if pending is None:
        raise InvalidInput(
            N_("the code is unknown, already used, or replaced by a newer request"), param="token"
        )
    if as_utc(pending.expires_at) <= utcnow():
        raise InvalidInput(N_("the code has expired; ask for a new one"), param="token")
    return await change_email(conn, user_id, pending.email, keep_session=keep_session, actor=actor)


async def change_email(
    conn: AsyncConnection,
    user_id: str,
    email: str,
    *,
    keep_session: str | None = None,
    actor: Actor = SYSTEM,
) -> User:
    """Give the user a new address (unchecked: an operator's change, or a confirmed one);
    every session of theirs but `keep_session` ends, and the change is audited and told
    to both addresses. The same address again changes nothing."""
    new_email = validate_email(email)
    before = await get_user(conn, user_id)
    if new_email == before.email:
        return before
    try:
        await conn.execute(update(users).where(users.c.id == user_id).values(email=new_email))
    except IntegrityError as error:
        raise AlreadyExists(
            N_("{new_email!r} is another user's address"), param="email", new_email=new_email
        ) from error
    await conn.execute(delete(email_changes).where(email_changes.c.user_id == user_id))
    ended = await end_other_sessions(conn, user_id, keep_session)
    await audit.record(
        conn,
        actor,
        "user.email_change",
        object_kind="user",
        object_id=user_id,
        org_id=before.org_id,
        changes={"email": [before.email, new_email], "sessions_ended": [None, ended]},
    )
    await record_notice(
        conn,
        before.org_id,
        EMAIL_CHANGED,
        {"previous_email": before.email, "email": new_email, "sessions_ended": ended},
        user_id=user_id,
    )
    return await get_user(conn, user_id)


@dataclass(frozen=True)
class PendingEmailChange:
    email: str
    requested_at: datetime
    expires_at: datetime


async def pending_email_change(conn: AsyncConnection, user_id: str) -> PendingEmailChange | None:
    """The person's change waiting for its code (the address it was mailed to), unless it
    expired; the console's profile page shows it."""
    row = (
        await conn.execute(select(email_changes).where(email_changes.c.user_id == user_id))
    ).first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return PendingEmailChange(row.email, as_utc(row.created_at), as_utc(row.expires_at))
