"""`POST /api/session/reauthenticate`: a signed-in person proves their password again,
so that the session may make the most sensitive changes (key rotation, new access
tokens: `RecentlyAuthenticated` in `deps.py`) for `AISONAR_REAUTH_WINDOW_S` more.
Wrong passwords count with failed sign-ins, per account and per client address."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from aisonar.accounts.passwords import verify_password
from aisonar.accounts.sessions import mark_authenticated
from aisonar.accounts.throttle import SignInThrottle
from aisonar.admin.deps import Caller, Config, Services, Session, client_ip
from aisonar.admin.errors import Unauthenticated
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.errors import InvalidInput
from aisonar.store.tables import users

router = APIRouter(tags=["session"])


class Reauthenticate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=1000)


class Reauthenticated(BaseModel):
    authenticated_at: datetime
    # Until then the session may make the changes that ask for a recent password.
    valid_until: datetime


@router.post(
    "/api/session/reauthenticate", responses={429: {"description": "Too many failed sign-ins."}}
)
async def reauthenticate(
    body: Reauthenticate,
    request: Request,
    caller: Caller,
    signed_in: Session,
    running: Services,
    settings: Config,
) -> Reauthenticated:
    """Confirm your password in this signed-in session before a sensitive change (a
    `reauthentication_required` refusal asks for it). Access tokens need none."""
    if signed_in is None or signed_in.principal.user_id != caller.user_id:
        raise Unauthenticated(
            "Only a signed-in session (POST /api/session) re-authenticates; access tokens need not."
        )
    ip = client_ip(request)
    throttle = SignInThrottle(
        running.limiter.store,
        per_account=settings.signin_failures_per_account,
        per_ip=settings.signin_failures_per_ip,
        window_s=settings.signin_failure_window_s,
    )
    attempt = await throttle.attempt(caller.email, ip)
    actor = Actor(caller.email, caller.user_id, ip)
    async with running.engine.begin() as conn:
        password_hash = (
            await conn.execute(select(users.c.password_hash).where(users.c.id == caller.user_id))
        ).scalar_one()
        matched = verify_password(password_hash, body.password)
        action = "session.reauthenticate" if matched else "session.reauthentication_failed"
        at = await mark_authenticated(conn, signed_in.id) if matched else None
        await audit.record(
            conn, actor, action, object_kind="session", object_id=signed_in.id, org_id=caller.org_id
        )
    if at is None:
        raise InvalidInput("the password is wrong", param="password")
    await throttle.succeeded(attempt)
    return Reauthenticated(
        authenticated_at=at, valid_until=at + timedelta(seconds=settings.reauth_window_s)
    )
