"""`POST /api/me/email` and `POST /api/me/email/verify`: a person changes their own email
address, confirming with their password, then with the code mailed to the new address
(`accounts/email_change.py`). Requests are limited per person: each checks a password
and sends an email."""

from __future__ import annotations

import secrets
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from aisonar.accounts.email_change import (
    EmailChangeRequested,
    confirm_email_change,
    request_email_change,
)
from aisonar.accounts.services import validate_email
from aisonar.admin.schemas import UserOut
from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.errors import Throttled
from aisonar.gateway.services import GatewayServices
from aisonar.i18n import N_
from aisonar.limits.store import RateCheck
from aisonar.notify.direct import require_mail, send_now
from aisonar.notify.sender import Mail
from aisonar.web.deps import Acting, Caller, Config, Mailer, Services, Session

router = APIRouter(prefix="/api/me/email", tags=["me"])

_HOUR_S = 3600.0


class TooManyEmailChanges(Throttled):
    code = "too_many_email_changes"
    refusal = N_("Too many email change requests; try again in {seconds} s.")


class EmailChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    # The current password; an account without one cannot change its address itself.
    password: str | None = Field(default=None, max_length=1000)


class EmailChangePending(BaseModel):
    # The address the code went to; it becomes the account's once the code comes back.
    email: str
    expires_at: datetime


class EmailVerify(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The code from the email (`sonar-email-...`).
    token: str = Field(min_length=1, max_length=200)


async def _count_request(running: GatewayServices, settings: Settings, user_id: str) -> None:
    check = RateCheck(
        "email change requests of the account",
        f"email-change:user:{user_id}",
        settings.email_changes_per_hour,
        _HOUR_S,
        1,
    )
    decision = await running.limiter.store.admit(secrets.token_hex(8), [check], [])
    if not decision.allowed:
        raise TooManyEmailChanges(decision.retry_after_s)


async def _send(mail: Mail, requested: EmailChangeRequested) -> None:
    if requested.code is None:
        await send_now(mail, requested.recipient, "email_change_taken", {"email": requested.email})
        return
    data = {
        "email": requested.email,
        "code": requested.code,
        "expires_at": requested.expires_at.isoformat(),
    }
    await send_now(mail, requested.recipient, "email_change_code", data)


@router.post(
    "",
    status_code=202,
    responses={
        429: {"description": "Too many email change requests."},
        503: {"description": "The email could not be sent; ask again later."},
    },
)
async def request_my_email_change(
    body: EmailChange,
    caller: Caller,
    actor: Acting,
    running: Services,
    settings: Config,
    mailer: Mailer,
) -> EmailChangePending:
    """Ask to change your email address: with your current password, a code is mailed to
    the new address; send it to `POST /api/me/email/verify` within 24 hours. Nothing
    changes until then; a new request replaces the previous one. An address that cannot
    be yours is answered alike, but gets no code."""
    requested = await ask_for_email_change(
        running, settings, mailer, caller.user_id, actor, body.email, body.password
    )
    return EmailChangePending(email=requested.email, expires_at=requested.expires_at)


async def ask_for_email_change(
    running: GatewayServices,
    settings: Settings,
    mailer: Mail | None,
    user_id: str,
    actor: Actor,
    email: str,
    password: str | None,
) -> EmailChangeRequested:
    """The request of `POST /api/me/email` (the API and the console's profile page):
    counted per person, the code mailed to the new address before it returns."""
    mail = require_mail(mailer)
    # A mistyped address is refused before it counts against the person's requests.
    validate_email(email)
    await _count_request(running, settings, user_id)
    async with running.engine.begin() as conn:
        requested = await request_email_change(conn, user_id, email, password, actor=actor)
    await _send(mail, requested)
    return requested


@router.post("/verify")
async def verify_my_email_change(
    body: EmailVerify, caller: Caller, actor: Acting, signed_in: Session, running: Services
) -> UserOut:
    """Confirm the change with the code (`sonar-email-...`) mailed to the new address:
    the address changes, every other session of yours ends, and both addresses are
    told."""
    async with running.engine.begin() as conn:
        changed = await confirm_email_change(
            conn,
            caller.user_id,
            body.token,
            keep_session=None if signed_in is None else signed_in.id,
            actor=actor,
        )
    return UserOut.of(changed)
