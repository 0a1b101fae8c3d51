"""`POST /api/signup`: self-service sign-up, when the operator allows it
(`AISONAR_SIGNUP_ENABLED`, off by default). It creates an organization on the Free plan
named after the company, its first user as the organization's admin, and signs them in
(`privacy/sign_up.py`). The person must confirm they are 18 or over and accept the
current terms, if there are any; both are recorded with the account. Sign-ups are
limited per address."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from aisonar.api.schemas import UserOut
from aisonar.api.session import SessionOut
from aisonar.web.deps import Config, Services
from aisonar.web.inputs import SignUp
from aisonar.web.sessions import sign_up as sign_up_and_in

router = APIRouter(tags=["session"])


@router.post(
    "/api/signup",
    status_code=201,
    responses={429: {"description": "Too many sign-ups from this address."}},
)
async def sign_up(
    body: SignUp, request: Request, response: Response, running: Services, settings: Config
) -> SessionOut:
    """Create an organization (Free plan) and its admin, and sign them in."""
    user, started = await sign_up_and_in(request, response, running, settings, body)
    return SessionOut(
        user=UserOut.of(user), csrf_token=started.csrf_token, expires_at=started.expires_at
    )
