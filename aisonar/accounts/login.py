"""Signing in with a password, and changing it."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.passwords import hash_password, verify_password
from aisonar.accounts.principal import Principal
from aisonar.accounts.sessions import end_other_sessions
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.notify.notices import PASSWORD_CHANGED, record_notice
from aisonar.store.roles import Role
from aisonar.store.tables import users


async def password_principal(conn: AsyncConnection, email: str, password: str) -> Principal | None:
    """The active user with this email and password, or None (taking as long either way)."""
    row = (
        await conn.execute(
            select(
                users.c.id, users.c.org_id, users.c.email, users.c.role, users.c.password_hash
            ).where(users.c.email == email.strip().lower(), users.c.disabled_at.is_(None))
        )
    ).first()
    matched = verify_password(None if row is None else row.password_hash, password)
    if row is None or not matched:
        return None
    return Principal(row.id, row.org_id, row.email, Role(row.role))


async def change_password(
    conn: AsyncConnection,
    user_id: str,
    *,
    current: str,
    new: str,
    keep_session: str | None,
    actor: Actor,
) -> int:
    """Replace the user's password after checking the current one, and end every other
    session of theirs; returns how many were ended."""
    row = (
        await conn.execute(
            select(users.c.email, users.c.name, users.c.password_hash, users.c.org_id).where(
                users.c.id == user_id
            )
        )
    ).one()
    if not verify_password(row.password_hash, current):
        raise InvalidInput(N_("the current password is wrong"), param="current_password")
    if new == current:
        raise InvalidInput(N_("the new password is the current one"), param="new_password")
    try:
        new_hash = hash_password(new, user_inputs=[row.email, row.name])
    except InvalidInput as error:
        raise InvalidInput(error.template, param="new_password", **error.values) from None
    await conn.execute(update(users).where(users.c.id == user_id).values(password_hash=new_hash))
    ended = await end_other_sessions(conn, user_id, keep_session)
    await audit.record(
        conn,
        actor,
        "user.password_change",
        object_kind="user",
        object_id=user_id,
        org_id=row.org_id,
        changes={"password_set": [True, True], "sessions_ended": [None, ended]},
    )
    await record_notice(
        conn, row.org_id, PASSWORD_CHANGED, {"sessions_ended": ended}, user_id=user_id
    )
    return ended
