"""Opening a session in a browser, as the API's `POST /api/session` and `POST /api/signup`
and the console's sign-in and sign-up forms all do: the use case (`accounts/sign_in.py`,
`privacy/sign_up.py`), the session's cookie (HttpOnly, SameSite=Lax, Secure when served
over TLS), and the outcome counted in the metrics."""

from __future__ import annotations

from fastapi import Request, Response

from aisonar.accounts.models import User
from aisonar.accounts.services import (
    COOKIE_NAME,
    NewSession,
    TooManySignIns,
    sign_in_with_password,
)
from aisonar.config import Settings
from aisonar.gateway.services import GatewayServices
from aisonar.i18n import N_
from aisonar.privacy.services import TooManySignUps
from aisonar.privacy.services import sign_up as create_account
from aisonar.web.deps import client_ip
from aisonar.web.errors import Unauthenticated
from aisonar.web.inputs import SignUp


def set_session_cookie(
    request: Request, response: Response, settings: Settings, started: NewSession
) -> None:
    response.set_cookie(
        COOKIE_NAME,
        started.secret,
        max_age=settings.session_lifetime_s,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )


async def password_sign_in(
    request: Request,
    response: Response,
    running: GatewayServices,
    settings: Settings,
    email: str,
    password: str,
) -> tuple[User, NewSession]:
    """Sign a person in with their password (`accounts/sign_in.py`), the session's cookie
    set on `response`; Unauthenticated if the email or password is wrong."""
    outcomes = running.metrics.sign_ins
    try:
        signed_in = await sign_in_with_password(
            running.engine, running.limiter.store, settings, email, password, client_ip(request)
        )
    except TooManySignIns:
        outcomes.labels("throttled").inc()
        raise
    if signed_in is None:
        outcomes.labels("failed").inc()
        raise Unauthenticated(N_("The email or password is wrong."))
    outcomes.labels("succeeded").inc()
    set_session_cookie(request, response, settings, signed_in[1])
    return signed_in


async def sign_up(
    request: Request, response: Response, running: GatewayServices, settings: Settings, body: SignUp
) -> tuple[User, NewSession]:
    """Sign a person up (`privacy/sign_up.py`) and in, the session's cookie set on
    `response`; the sign-up counted in the metrics."""
    try:
        user, started = await create_account(
            running.engine,
            running.limiter.store,
            settings,
            email=body.email,
            password=body.password,
            name=body.name,
            company=body.company,
            age_confirmed=body.age_confirmed,
            accepted_terms_version=body.accepted_terms_version,
            ip=client_ip(request),
        )
    except TooManySignUps:
        running.metrics.sign_ups.labels("throttled").inc()
        raise
    set_session_cookie(request, response, settings, started)
    running.metrics.sign_ups.labels("created").inc()
    return user, started
