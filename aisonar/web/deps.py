"""What every management endpoint takes: the running services and the caller, who sends
a personal access token as Bearer, or the session cookie of a password sign-in (then a
state-changing request must also carry the session's CSRF token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts.services import (
    COOKIE_NAME,
    CSRF_HEADER,
    ActiveSession,
    Principal,
    active_session,
    principal_for_token,
)
from aisonar.accounts.services import recently_authenticated as proved_recently
from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.gateway.services import GatewayServices
from aisonar.i18n import N_
from aisonar.notify.services import Mail, configured_mail
from aisonar.web.errors import Forbidden, ReauthenticationRequired, Unauthenticated

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="accessToken",
    description="A personal access token (`aisonar token create EMAIL`).",
)
_cookie = APIKeyCookie(
    name=COOKIE_NAME,
    auto_error=False,
    scheme_name="session",
    description=f"After `POST /api/session`; changes also need the `{CSRF_HEADER}` header.",
)


def services(request: Request) -> GatewayServices:
    running: GatewayServices = request.app.state.runtime.services
    return running


Services = Annotated[GatewayServices, Depends(services)]


def settings(request: Request) -> Settings:
    configured: Settings = request.app.state.settings
    return configured


Config = Annotated[Settings, Depends(settings)]


def box(request: Request, config: Config) -> SecretBox:
    """What seals and opens secrets at rest (channel keys, webhook secrets)."""
    sealer: SecretBox | None = getattr(request.app.state, "box", None)
    if sealer is None:
        sealer = request.app.state.box = SecretBox(
            config.resolved_secret_key(), config.secret_key_previous
        )
    return sealer


Box = Annotated[SecretBox, Depends(box)]


def mail(config: Config) -> Mail | None:
    """How email goes out at once (not through the notifier), or None without SMTP."""
    return configured_mail(config)


Mailer = Annotated[Mail | None, Depends(mail)]


def engine(request: Request) -> AsyncEngine:
    return services(request).engine


Engine = Annotated[AsyncEngine, Depends(engine)]


def read_engine(request: Request) -> AsyncEngine:
    return services(request).read_engine


# Analytics and exports: a read-only replica when there is one (its figures may lag).
ReadEngine = Annotated[AsyncEngine, Depends(read_engine)]


async def session(
    db: Engine, secret: Annotated[str | None, Depends(_cookie)]
) -> ActiveSession | None:
    if not secret:
        return None
    async with db.connect() as conn:
        return await active_session(conn, secret)


Session = Annotated[ActiveSession | None, Depends(session)]


async def principal(
    request: Request,
    db: Engine,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    signed_in: Session,
) -> Principal:
    if credentials is not None:
        async with db.connect() as conn:
            found = await principal_for_token(conn, credentials.credentials)
        if found is None:
            raise Unauthenticated(N_("The access token is unknown, revoked or expired."))
        return found
    if signed_in is None:
        raise Unauthenticated(
            N_("Sign in (`POST /api/session`) or send a personal access token as Bearer.")
        )
    if request.method not in _SAFE_METHODS and not signed_in.csrf_matches(
        request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(
            N_("A signed-in change needs the session's CSRF token in {csrf_header}."),
            csrf_header=CSRF_HEADER,
        )
    return signed_in.principal


Caller = Annotated[Principal, Depends(principal)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def acting(caller: Caller, request: Request) -> Actor:
    """The caller as the audit log records them, with the address they called from."""
    return Actor(caller.email, caller.user_id, client_ip(request))


Acting = Annotated[Actor, Depends(acting)]


async def operator(caller: Caller) -> Principal:
    if not caller.is_operator:
        raise Forbidden(N_("Only an operator may do this."))
    return caller


Operator = Annotated[Principal, Depends(operator)]


async def recently_authenticated(
    caller: Caller,
    signed_in: Session,
    config: Config,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, if a session cookie's person proved their password within
    `AISONAR_REAUTH_WINDOW_S`; access tokens have no password step and always pass."""
    if credentials is None and signed_in is not None and not proved_recently(signed_in, config):
        raise ReauthenticationRequired()
    return caller


RecentlyAuthenticated = Annotated[Principal, Depends(recently_authenticated)]
