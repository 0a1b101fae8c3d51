"""Password sign-in sessions for the console and the API: a random secret in an
HttpOnly cookie, stored as a SHA-256 hash, with its own CSRF token; ended by sign-out,
by expiry, or by a password change (which ends every other session of the user)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.keys import hash_key
from aisonar.accounts.networks import network_of
from aisonar.accounts.principal import Principal
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.store.roles import Role
from aisonar.store.tables import sessions, users

COOKIE_NAME = "aisonar_session"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class NewSession:
    id: str
    # Goes in the cookie; only its hash is stored.
    secret: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class ActiveSession:
    id: str
    principal: Principal
    csrf_token: str
    expires_at: datetime
    # When its person last proved their password in it.
    authenticated_at: datetime

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf_token)


async def start_session(
    conn: AsyncConnection, user_id: str, *, ip: str | None, lifetime: timedelta
) -> NewSession:
    secret, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    session = NewSession(new_id("ses"), secret, csrf_token, now + lifetime)
    await conn.execute(
        insert(sessions).values(
            id=session.id,
            user_id=user_id,
            token_hash=hash_key(secret),
            csrf_token=csrf_token,
            created_at=now,
            expires_at=session.expires_at,
            ip=ip,
            authenticated_at=now,
        )
    )
    return session


async def active_session(conn: AsyncConnection, secret: str) -> ActiveSession | None:
    """The live session behind a cookie, with its active user; else None."""
    row = (
        await conn.execute(
            select(
                sessions.c.id,
                sessions.c.csrf_token,
                sessions.c.expires_at,
                sessions.c.authenticated_at,
                users.c.id.label("user_id"),
                users.c.org_id,
                users.c.email,
                users.c.role,
            )
            .join(users, users.c.id == sessions.c.user_id)
            .where(
                sessions.c.token_hash == hash_key(secret),
                sessions.c.ended_at.is_(None),
                users.c.disabled_at.is_(None),
            )
        )
    ).first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    principal = Principal(row.user_id, row.org_id, row.email, Role(row.role))
    return ActiveSession(
        row.id, principal, row.csrf_token, as_utc(row.expires_at), as_utc(row.authenticated_at)
    )


async def is_new_address(conn: AsyncConnection, user_id: str, ip: str | None) -> bool:
    """Whether the user has signed in before, but never from this address's network (its
    /24, or /48 for IPv6): a neighbour on the same network, as a home router's next lease
    is, is not new."""
    earlier = (
        await conn.execute(
            select(sessions.c.ip).where(sessions.c.user_id == user_id).distinct().limit(1000)
        )
    ).scalars()
    seen = set(earlier)
    if not seen or ip in seen:
        return False
    network = None if ip is None else network_of(ip)
    return network is None or network not in {network_of(one) for one in seen if one}


async def mark_authenticated(conn: AsyncConnection, session_id: str) -> datetime:
    """Record that the session's person proved their password just now."""
    now = utcnow()
    await conn.execute(
        update(sessions).where(sessions.c.id == session_id).values(authenticated_at=now)
    )
    return now


async def end_session(conn: AsyncConnection, session_id: str) -> None:
    await conn.execute(
        update(sessions)
        .where(sessions.c.id == session_id, sessions.c.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


async def end_other_sessions(conn: AsyncConnection, user_id: str, keep: str | None) -> int:
    """End every session of the user but `keep` (a session id); returns how many."""
    query = update(sessions).where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
    if keep is not None:
        query = query.where(sessions.c.id != keep)
    result = await conn.execute(query.values(ended_at=utcnow()))
    return int(result.rowcount)
