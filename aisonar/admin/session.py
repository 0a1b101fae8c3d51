"""`/api/session`: password sign-in with a session cookie (HttpOnly, SameSite=Lax,
Secure over TLS), its CSRF token, sign-out; and `POST /api/me/password`."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.login import change_password, password_principal
from aisonar.accounts.models import User
from aisonar.accounts.sessions import (
    COOKIE_NAME,
    NewSession,
    end_session,
    is_new_address,
    start_session,
)
from aisonar.accounts.throttle import TooManySignIns, sign_in_throttle
from aisonar.admin.schemas import UserOut
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.i18n import N_
from aisonar.notify.notices import SIGN_IN_FROM_NEW_ADDRESS, record_notice
from aisonar.web.deps import Acting, Caller, Config, Engine, Services, Session, client_ip
from aisonar.web.errors import Unauthenticated

router = APIRouter(tags=["session"])


class SignIn(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1000)


class SessionOut(BaseModel):
    user: UserOut
    # Send it back in the x-csrf-token header with every change made with the cookie.
    csrf_token: str
    expires_at: datetime


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000)


class PasswordChanged(BaseModel):
    # The other sessions of the user, ended by the change.
    sessions_ended: int


async def open_session(
    conn: AsyncConnection,
    request: Request,
    response: Response,
    settings: Settings,
    user_id: str,
    ip: str | None,
) -> NewSession:
    """A new session for the user, its cookie set on the response (HttpOnly,
    SameSite=Lax, Secure when served over TLS)."""
    lifetime = timedelta(seconds=settings.session_lifetime_s)
    started = await start_session(conn, user_id, ip=ip, lifetime=lifetime)
    response.set_cookie(
        COOKIE_NAME,
        started.secret,
        max_age=settings.session_lifetime_s,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )
    return started


async def password_sign_in(
    request: Request,
    response: Response,
    running: Services,
    settings: Settings,
    email: str,
    password: str,
) -> tuple[User, NewSession]:
    """Sign a person in with their password: throttled (`accounts/throttle.py`), audited
    (failures too), a notice when the address is new to them; the session's cookie is set
    on `response`. The API and the console's sign-in form both come here."""
    ip = client_ip(request)
    throttle = sign_in_throttle(running.limiter.store, settings)
    try:
        attempt = await throttle.attempt(email, ip)
    except TooManySignIns:
        running.metrics.sign_ins.labels("throttled").inc()
        raise
    async with running.engine.begin() as conn:
        found = await password_principal(conn, email, password)
        if found is None:
            await audit.record(
                conn,
                Actor(email.strip().lower()[:320], None, ip),
                "session.sign_in_failed",
                object_kind="user",
                object_id=email.strip().lower()[:64],
            )
        else:
            if await is_new_address(conn, found.user_id, ip):
                await record_notice(
                    conn,
                    found.org_id,
                    SIGN_IN_FROM_NEW_ADDRESS,
                    {"ip": ip},
                    user_id=found.user_id,
                )
            started = await open_session(conn, request, response, settings, found.user_id, ip)
            await audit.record(
                conn,
                Actor(found.email, found.user_id, ip),
                "session.sign_in",
                object_kind="session",
                object_id=started.id,
                org_id=found.org_id,
            )
            user = await accounts.get_user(conn, found.user_id)
    if found is None:
        running.metrics.sign_ins.labels("failed").inc()
        raise Unauthenticated(N_("The email or password is wrong."))
    await throttle.succeeded(attempt)
    running.metrics.sign_ins.labels("succeeded").inc()
    return user, started


@router.post("/api/session", responses={429: {"description": "Too many failed sign-ins."}})
async def sign_in(
    body: SignIn, request: Request, response: Response, running: Services, settings: Config
) -> SessionOut:
    """Sign in with email and password; sets the session cookie."""
    user, started = await password_sign_in(
        request, response, running, settings, body.email, body.password
    )
    return SessionOut(
        user=UserOut.of(user), csrf_token=started.csrf_token, expires_at=started.expires_at
    )


@router.get("/api/session")
async def current_session(signed_in: Session, db: Engine) -> SessionOut:
    """The signed-in session, with its CSRF token (401 when there is none)."""
    if signed_in is None:
        raise Unauthenticated(N_("Not signed in."))
    async with db.connect() as conn:
        user = await accounts.get_user(conn, signed_in.principal.user_id)
    return SessionOut(
        user=UserOut.of(user), csrf_token=signed_in.csrf_token, expires_at=signed_in.expires_at
    )


@router.delete("/api/session", status_code=204)
async def sign_out(caller: Caller, signed_in: Session, db: Engine, response: Response) -> None:
    """End the session and clear its cookie."""
    if signed_in is not None:
        async with db.begin() as conn:
            await end_session(conn, signed_in.id)
    response.delete_cookie(COOKIE_NAME, path="/")


@router.post("/api/me/password")
async def change_my_password(
    body: PasswordChange, caller: Caller, actor: Acting, signed_in: Session, db: Engine
) -> PasswordChanged:
    """Change the password; every other session of the user ends."""
    async with db.begin() as conn:
        ended = await change_password(
            conn,
            caller.user_id,
            current=body.current_password,
            new=body.new_password,
            keep_session=None if signed_in is None else signed_in.id,
            actor=actor,
        )
    return PasswordChanged(sessions_ended=ended)
