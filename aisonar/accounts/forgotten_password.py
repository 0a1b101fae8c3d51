"""A forgotten password, the use cases behind `POST /api/password-reset` (and `/confirm`)
and the console's reset page: asking for a reset mail and completing the reset with the
mailed token (`password_reset.py`), without signing in.

Every request for an address is answered alike, whether it names an account or not, and
the mail goes out after the answer, so that neither the answer nor its time tells which
addresses have accounts. Requests are limited per address and per client address;
confirmations are limited like sign-ins, by the failures from one client address."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts.directory import validate_email
from aisonar.accounts.password_reset import (
    RESET_PAGE,
    PasswordReset,
    ResetMailed,
    request_password_reset,
    reset_link,
    reset_password,
)
from aisonar.config import Settings
from aisonar.errors import Phrase, Throttled
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore, RateCheck
from aisonar.limits.throttle import count_one, hourly
from aisonar.notify.direct import EmailNotConfigured, EmailNotSent, send_now
from aisonar.notify.sender import Mail


class TooManyPasswordResets(Throttled):
    code = "too_many_password_resets"
    refusal = N_("Too many {what}; try again in {seconds} s.")

    def __init__(self, retry_after_s: float, what: str) -> None:
        super().__init__(retry_after_s, what=Phrase(what))


async def _admit(store: LimitStore, checks: list[RateCheck], what: str) -> str:
    """Count one against each check (TooManyPasswordResets if one does not fit); the id
    that gives it back."""
    return await count_one(
        store, checks, lambda retry_after_s: TooManyPasswordResets(retry_after_s, what)
    )


def _request_checks(settings: Settings, email: str, ip: str | None) -> list[RateCheck]:
    # Counted together, in one hash slot on a Redis Cluster (the `{...}` tag).
    checks = [
        hourly(
            "password reset requests for the address",
            f"{{password-reset}}:email:{email}",
            settings.password_resets_per_hour,
        )
    ]
    if ip is not None:
        checks.append(
            hourly(
                "password reset requests from the client address",
                f"{{password-reset}}:ip:{ip}",
                settings.password_resets_per_ip_per_hour,
            )
        )
    return checks


async def ask_for_reset(
    engine: AsyncEngine,
    store: LimitStore,
    settings: Settings,
    mailer: Mail | None,
    email: str,
    ip: str | None,
) -> ResetMailed | None:
    """A reset for the address, limited per address and client: the mail to send after
    the answer (`send_reset_mail`), or None when no account signs in with it."""
    if mailer is None:
        raise EmailNotConfigured(
            N_(
                "This server sends no email (AISONAR_SMTP_URL is not set), so it cannot send a "
                "password reset; ask an operator to set a new password."
            )
        )
    email = validate_email(email)
    await _admit(store, _request_checks(settings, email, ip), N_("password reset requests"))
    async with engine.begin() as conn:
        return await request_password_reset(conn, email, ip)


async def send_reset_mail(mail: Mail, settings: Settings, mailed: ResetMailed) -> None:
    data = {
        "token": mailed.token,
        "link": reset_link(settings, mailed.token),
        "page": RESET_PAGE,
        "expires_at": mailed.expires_at.isoformat(),
    }
    try:
        await send_now(mail, mailed.recipient, "password_reset", data)
    except EmailNotSent:
        # Already logged; the person cannot be told without telling who has an account.
        return


async def complete_reset(
    engine: AsyncEngine,
    store: LimitStore,
    settings: Settings,
    token: str,
    new_password: str,
    ip: str | None,
) -> PasswordReset:
    """Set the new password with the mailed token: failures limited per client address
    like sign-ins."""
    checks = (
        []
        if ip is None
        else [
            RateCheck(
                "password reset attempts from the client address",
                f"password-reset-confirm:ip:{ip}",
                settings.signin_failures_per_ip,
                settings.signin_failure_window_s,
                1,
            )
        ]
    )
    attempt = await _admit(store, checks, N_("failed password reset attempts"))
    async with engine.begin() as conn:
        done = await reset_password(conn, token, new_password, ip)
    await store.finish(attempt, [], checks, -1)
    return done
