"""`POST /api/signup`: self-service sign-up, when the operator allows it
(`AISONAR_SIGNUP_ENABLED`, off by default). It creates an organization on the Free plan
named after the company, its first user as the organization's admin, and signs them in.
The person must confirm they are 18 or over and accept the current terms, if there are
any; both are recorded with the account. Sign-ups are limited per address."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from aisonar.accounts import services as accounts
from aisonar.accounts.models import Plan, Role
from aisonar.admin.schemas import UserOut
from aisonar.admin.session import SessionOut, open_session
from aisonar.audit.models import Actor
from aisonar.errors import InvalidInput, NotFound, Throttled
from aisonar.i18n import N_
from aisonar.limits.store import RateCheck
from aisonar.privacy.consents import record_sign_up, terms_to_accept
from aisonar.web.deps import Config, Services, client_ip

router = APIRouter(tags=["session"])

_HOUR_S = 3600.0


class TooManySignUps(Throttled):
    code = "too_many_sign_ups"
    refusal = N_("Too many sign-ups from this address; try again in {seconds} s.")


class SignUp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1000)
    name: str = Field(min_length=1, max_length=200)
    company: str = Field(min_length=1, max_length=200)
    # Must be true: nobody under 18 may hold an account.
    age_confirmed: StrictBool
    # The version of the current terms of service (`GET /api/policies/terms`) the person
    # accepted; required while terms are published, left out while none are.
    accepted_terms_version: int | None = None


@router.post(
    "/api/signup",
    status_code=201,
    responses={429: {"description": "Too many sign-ups from this address."}},
)
async def sign_up(
    body: SignUp, request: Request, response: Response, running: Services, settings: Config
) -> SessionOut:
    """Create an organization (Free plan) and its admin, and sign them in."""
    if not settings.signup_enabled:
        raise NotFound(N_("Sign-up is not open on this server; ask its operator for an account."))
    if not body.age_confirmed:
        raise InvalidInput(
            N_("confirm that you are 18 or older: nobody under 18 may hold an account"),
            param="age_confirmed",
        )
    ip = client_ip(request)
    if ip is not None:
        check = RateCheck(
            "sign-ups from the address",
            f"signup:ip:{ip}",
            settings.signups_per_ip_per_hour,
            _HOUR_S,
            1,
        )
        decision = await running.limiter.store.admit(secrets.token_hex(8), [check], [])
        if not decision.allowed:
            running.metrics.sign_ups.labels("throttled").inc()
            raise TooManySignUps(decision.retry_after_s)
    actor = Actor(body.email.strip().lower(), None, ip)
    async with running.engine.begin() as conn:
        terms = await terms_to_accept(conn, body.accepted_terms_version)
        org = await accounts.create_org(conn, body.company, Plan.FREE, actor=actor)
        user = await accounts.create_user(
            conn,
            body.email,
            org.name,
            name=body.name,
            role=Role.ORG_ADMIN,
            password=body.password,
            company=org.name,
            actor=actor,
        )
        await record_sign_up(conn, user.id, terms, actor)
        started = await open_session(conn, request, response, settings, user.id, ip)
    running.metrics.sign_ups.labels("created").inc()
    return SessionOut(
        user=UserOut.of(user), csrf_token=started.csrf_token, expires_at=started.expires_at
    )
