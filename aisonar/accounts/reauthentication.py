"""A signed-in person proves their password again, so that their session may make the
most sensitive changes for `AISONAR_REAUTH_WINDOW_S` more. Wrong passwords count with
failed sign-ins, per account and per client address; each attempt is audited."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts.passwords import verify_password
from aisonar.accounts.principal import Principal
from aisonar.accounts.sessions import ActiveSession, mark_authenticated
from aisonar.accounts.throttle import sign_in_throttle
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore
from aisonar.store.tables import users


def recently_authenticated(signed_in: ActiveSession, settings: Settings) -> bool:
    """Whether the session's person proved their password within the window."""
    return utcnow() - signed_in.authenticated_at <= timedelta(seconds=settings.reauth_window_s)


async def prove_password(
    engine: AsyncEngine,
    limit_store: LimitStore,
    settings: Settings,
    signed_in: ActiveSession,
    password: str,
    ip: str | None,
) -> datetime:
    """When the session's person proved their password; a wrong one is refused."""
    caller: Principal = signed_in.principal
    throttle = sign_in_throttle(limit_store, settings)
    attempt = await throttle.attempt(caller.email, ip)
    actor = Actor(caller.email, caller.user_id, ip)
    async with engine.begin() as conn:
        password_hash = (
            await conn.execute(select(users.c.password_hash).where(users.c.id == caller.user_id))
        ).scalar_one()
        matched = verify_password(password_hash, password)
        action = "session.reauthenticate" if matched else "session.reauthentication_failed"
        at = await mark_authenticated(conn, signed_in.id) if matched else None
        await audit.record(
            conn, actor, action, object_kind="session", object_id=signed_in.id, org_id=caller.org_id
        )
    if at is None:
        raise InvalidInput(N_("the password is wrong"), param="password")
    await throttle.succeeded(attempt)
    return at
