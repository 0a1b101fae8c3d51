"""`POST /api/me/email` and `POST /api/me/email/verify`: a person changes their own email
address, confirming with their password, then with the code mailed to the new address
(`accounts/email_change.py`, `accounts/email_change_requests.py`). Requests are limited
per person: each checks a password and sends an email."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from aisonar.accounts.services import ask_for_email_change, confirm_email_change
from aisonar.api.schemas import UserOut
from aisonar.web.deps import Acting, Caller, Config, Mailer, Services, Session
from aisonar.web.inputs import EmailChange, EmailVerify

router = APIRouter(prefix="/api/me/email", tags=["me"])


class EmailChangePending(BaseModel):
    # The address the code went to; it becomes the account's once the code comes back.
    email: str
    expires_at: datetime


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
        running.engine,
        running.limiter.store,
        settings,
        mailer,
        caller.user_id,
        actor,
        body.email,
        body.password,
    )
    return EmailChangePending(email=requested.email, expires_at=requested.expires_at)


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
