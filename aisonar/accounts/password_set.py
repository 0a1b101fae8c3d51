"""A password set for someone else: by an operator (the console, or
`aisonar user update EMAIL --password-stdin`) or by their organization's admins (the
member's page), for a person who forgot theirs on a server that sends no email, or who
was created without one. Checked like any new password; every session of the person
ends, as a reset does; audited as `user.password_set` (never the password) and told to
the person by the `password_changed` security notice. People change their own password
with the current one (`login.change_password`), never here."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import directory as accounts
from aisonar.accounts.access import reachable_user
from aisonar.accounts.passwords import hash_password
from aisonar.accounts.principal import Principal
from aisonar.accounts.sessions import end_other_sessions
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.errors import Forbidden, InvalidInput
from aisonar.i18n import N_
from aisonar.notify.notices import PASSWORD_CHANGED, record_notice
from aisonar.store.roles import Role
from aisonar.store.tables import users


async def set_password(conn: AsyncConnection, user_id: str, new: str, *, actor: Actor) -> int:
    """Give the user this password (if strong enough) and end every session of theirs;
    returns how many ended. Who may is the caller's business (`set_member_password`)."""
    person = await accounts.get_user(conn, user_id)
    try:
        new_hash = hash_password(new, user_inputs=[person.email, person.name, person.org_name])
    except InvalidInput as error:
        raise InvalidInput(error.template, param="password", **error.values) from None
    await conn.execute(update(users).where(users.c.id == user_id).values(password_hash=new_hash))
    ended = await end_other_sessions(conn, user_id, None)
    await audit.record(
        conn,
        actor,
        "user.password_set",
        object_kind="user",
        object_id=user_id,
        org_id=person.org_id,
        changes={"password_set": [person.password_set, True], "sessions_ended": [None, ended]},
    )
    await record_notice(
        conn,
        person.org_id,
        PASSWORD_CHANGED,
        {"sessions_ended": ended, "by_admin": True},
        user_id=user_id,
    )
    return ended


async def set_member_password(
    conn: AsyncConnection, caller: Principal, actor: Actor, user_id: str, new: str
) -> int:
    """`set_password` for a member of an organization the caller administers (only an
    operator sets an operator's); nobody sets their own here."""
    user = await reachable_user(conn, caller, user_id)
    if not caller.administers(user.org_id):
        raise Forbidden(N_("Only the organization's admins may set a member's password."))
    if user.role == Role.OPERATOR and not caller.is_operator:
        raise Forbidden(N_("Only an operator may change an operator, or make one."))
    if user.id == caller.user_id:
        raise InvalidInput(
            N_("Change your own password on your profile, with your current one."),
            param="password",
        )
    return await set_password(conn, user_id, new, actor=actor)
