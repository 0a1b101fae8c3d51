"""Signing in with a password, the use case behind `POST /api/session` and the console's
sign-in form: throttled by the failures for the address and from the client address
(`throttle.py`), audited (failures too), a notice when the client address is new to
the person, and a session started for them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import directory as accounts
from aisonar.accounts.login import password_principal
from aisonar.accounts.models import User
from aisonar.accounts.sessions import NewSession, is_new_address, start_session
from aisonar.accounts.throttle import sign_in_throttle
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.limits.store import LimitStore
from aisonar.notify.notices import SIGN_IN_FROM_NEW_ADDRESS, record_notice


async def sign_in_with_password(
    engine: AsyncEngine,
    store: LimitStore,
    settings: Settings,
    email: str,
    password: str,
    ip: str | None,
) -> tuple[User, NewSession] | None:
    """The person and their new session, or None if the email or password is wrong;
    TooManySignIns when the failures leave no room for another attempt."""
    throttle = sign_in_throttle(store, settings)
    attempt = await throttle.attempt(email, ip)
    async with engine.begin() as conn:
        found = await password_principal(conn, email, password)
        if found is None:
            await audit.record(
                conn,
                Actor(email.strip().lower()[:320], None, ip),
                "session.sign_in_failed",
                object_kind="user",
                object_id=email.strip().lower()[:64],
            )
            return None
        if await is_new_address(conn, found.user_id, ip):
            await record_notice(
                conn, found.org_id, SIGN_IN_FROM_NEW_ADDRESS, {"ip": ip}, user_id=found.user_id
            )
        lifetime = timedelta(seconds=settings.session_lifetime_s)
        started = await start_session(conn, found.user_id, ip=ip, lifetime=lifetime)
        await audit.record(
            conn,
            Actor(found.email, found.user_id, ip),
            "session.sign_in",
            object_kind="session",
            object_id=started.id,
            org_id=found.org_id,
        )
        user = await accounts.get_user(conn, found.user_id)
    await throttle.succeeded(attempt)
    return user, started
