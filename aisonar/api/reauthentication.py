"""`POST /api/session/reauthenticate`: a signed-in person proves their password again,
so that the session may make the most sensitive changes (key rotation, new access
tokens, a deletion request: `RecentlyAuthenticated` in `deps.py`) for
`AISONAR_REAUTH_WINDOW_S` more (`accounts/reauthentication.py`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from aisonar.accounts.services import prove_password
from aisonar.i18n import N_
from aisonar.web.deps import Caller, Config, Services, Session, client_ip
from aisonar.web.errors import Unauthenticated

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
            N_(
                "Only a signed-in session (POST /api/session) re-authenticates; "
                "access tokens need not."
            )
        )
    at = await prove_password(
        running.engine,
        running.limiter.store,
        settings,
        signed_in,
        body.password,
        client_ip(request),
    )
    return Reauthenticated(
        authenticated_at=at, valid_until=at + timedelta(seconds=settings.reauth_window_s)
    )
