"""Asking to change one's email address, the use case behind `POST /api/me/email` and
the console's profile page: with the current password, a code is mailed to the new
address (`email_change.py` keeps it and confirms the change). Requests are limited per
person: each checks a password and sends an email."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts.directory import validate_email
from aisonar.accounts.email_change import EmailChangeRequested, request_email_change
from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.errors import Throttled
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore
from aisonar.limits.throttle import count_one, hourly
from aisonar.notify.direct import require_mail, send_now
from aisonar.notify.sender import Mail


class TooManyEmailChanges(Throttled):
    code = "too_many_email_changes"
    refusal = N_("Too many email change requests; try again in {seconds} s.")


async def _count_request(store: LimitStore, settings: Settings, user_id: str) -> None:
    check = hourly(
        "email change requests of the account",
        f"email-change:user:{user_id}",
        settings.email_changes_per_hour,
    )
    await count_one(store, [check], TooManyEmailChanges)


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


async def ask_for_email_change(
    engine: AsyncEngine,
    store: LimitStore,
    settings: Settings,
    mailer: Mail | None,
    user_id: str,
    actor: Actor,
    email: str,
    password: str | None,
) -> EmailChangeRequested:
    """A person asks to change their address: counted per person, the code mailed to
    the new address before it returns."""
    mail = require_mail(mailer)
    # A mistyped address is refused before it counts against the person's requests.
    validate_email(email)
    await _count_request(store, settings, user_id)
    async with engine.begin() as conn:
        requested = await request_email_change(conn, user_id, email, password, actor=actor)
    await _send(mail, requested)
    return requested
