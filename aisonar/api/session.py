"""`/api/session`: password sign-in with a session cookie (HttpOnly, SameSite=Lax,
Secure over TLS), its CSRF token, sign-out; and `POST /api/me/password`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from aisonar.accounts import services as accounts
from aisonar.accounts.services import COOKIE_NAME, change_password, end_session
from aisonar.api.schemas import UserOut
from aisonar.i18n import N_
from aisonar.web.deps import Acting, Caller, Config, Engine, Services, Session
from aisonar.web.errors import Unauthenticated
from aisonar.web.inputs import PasswordChange, SignIn
from aisonar.web.sessions import password_sign_in

router = APIRouter(tags=["session"])


class SessionOut(BaseModel):
    user: UserOut
    # Send it back in the x-csrf-token header with every change made with the cookie.
    csrf_token: str
    expires_at: datetime


class PasswordChanged(BaseModel):
    # The other sessions of the user, ended by the change.
    sessions_ended: int


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
