"""`POST /api/password-reset` and `POST /api/password-reset/confirm`: a forgotten
password, reset with a token mailed to the account's address (`accounts/password_reset.py`),
without signing in.

Every request for an address is answered alike, whether it names an account or not, and
the mail goes out after the answer, so that neither the answer nor its time tells which
addresses have accounts. Requests are limited per address and per client address;
confirmations are limited like sign-ins, by the failures from one client address."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, ConfigDict, Field

from aisonar.accounts.password_reset import (
    RESET_PAGE,
    PasswordReset,
    ResetMailed,
    request_password_reset,
    reset_link,
    reset_password,
)
from aisonar.accounts.services import validate_email
from aisonar.config import Settings
from aisonar.errors import Phrase, Throttled
from aisonar.gateway.services import GatewayServices
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore, RateCheck
from aisonar.notify.direct import EmailNotConfigured, EmailNotSent, send_now
from aisonar.notify.sender import Mail
from aisonar.web.deps import Config, Mailer, Services, client_ip

router = APIRouter(prefix="/api/password-reset", tags=["session"])

_HOUR_S = 3600.0
ANSWER = (
    "If an account that signs in with a password has this address, a link to reset its "
    "password was sent to it; the link works once, for one hour."
)


class TooManyPasswordResets(Throttled):
    code = "too_many_password_resets"

    refusal = N_("Too many {what}; try again in {seconds} s.")

    def __init__(self, retry_after_s: float, what: str) -> None:
        super().__init__(retry_after_s, what=Phrase(what))


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)


class ResetRequested(BaseModel):
    # The same for every address.
    message: str


class ResetConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The token from the email: a reset's (`sonar-reset-...`) or an invitation's
    # (`sonar-invite-...`).
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=1000)


class ResetDone(BaseModel):
    # Every session of the person was ended, this browser's included: sign in again.
    sessions_ended: int


async def _admit(store: LimitStore, checks: list[RateCheck], what: str) -> str:
    """Count one against each check (TooManyPasswordResets if one does not fit); the id
    that gives it back."""
    attempt = secrets.token_hex(8)
    decision = await store.admit(attempt, checks, [])
    if not decision.allowed:
        raise TooManyPasswordResets(decision.retry_after_s, what)
    return attempt


def _request_checks(settings: Settings, email: str, ip: str | None) -> list[RateCheck]:
    checks = [
        RateCheck(
            "password reset requests for the address",
            f"password-reset:email:{email}",
            settings.password_resets_per_hour,
            _HOUR_S,
            1,
        )
    ]
    if ip is not None:
        checks.append(
            RateCheck(
                "password reset requests from the client address",
                f"password-reset:ip:{ip}",
                settings.password_resets_per_ip_per_hour,
                _HOUR_S,
                1,
            )
        )
    return checks


async def _send(mail: Mail, settings: Settings, mailed: ResetMailed) -> None:
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


@router.post(
    "",
    status_code=202,
    responses={
        403: {"description": "This server sends no email."},
        429: {"description": "Too many requests for the address or from the client."},
    },
)
async def request_reset(
    body: ResetRequest,
    request: Request,
    tasks: BackgroundTasks,
    running: Services,
    settings: Config,
    mailer: Mailer,
) -> ResetRequested:
    """Forgot your password? Give your account's address: if it signs in with a password,
    a link (and the token in it) is mailed to it, good once for one hour; send the token
    with a new password to `POST /api/password-reset/confirm`. The answer is the same for
    every address. A new request replaces the earlier tokens."""
    await ask_for_reset(request, tasks, running, settings, mailer, body.email)
    return ResetRequested(message=ANSWER)


async def ask_for_reset(
    request: Request,
    tasks: BackgroundTasks,
    running: GatewayServices,
    settings: Settings,
    mailer: Mail | None,
    email: str,
) -> None:
    """The request of `POST /api/password-reset` (the API and the console's page): limited
    per address and client, the mail (if any) queued to go out after the answer, which is
    `ANSWER` for every address."""
    if mailer is None:
        raise EmailNotConfigured(
            N_(
                "This server sends no email (AISONAR_SMTP_URL is not set), so it cannot send a "
                "password reset; ask an operator to set a new password."
            )
        )
    email = validate_email(email)
    ip = client_ip(request)
    await _admit(
        running.limiter.store, _request_checks(settings, email, ip), N_("password reset requests")
    )
    async with running.engine.begin() as conn:
        mailed = await request_password_reset(conn, email, ip)
    if mailed is not None:
        tasks.add_task(_send, mailer, settings, mailed)


@router.post("/confirm", responses={429: {"description": "Too many failed attempts."}})
async def confirm_reset(
    body: ResetConfirm, request: Request, running: Services, settings: Config
) -> ResetDone:
    """Set a new password with the token mailed by `POST /api/password-reset`: it must be
    as strong as any password here; the token is then used up, every session of yours
    ends (sign in again), and you get a `password_changed` notice. Your keys and access
    tokens stay. An unknown, used or expired token changes nothing.

    The token of an invitation (`sonar-invite-...`, mailed by `POST /api/orgs/{id}/users`
    with `"invite": true` or `POST /api/users/{id}/invite`) sets the first password of
    the invited member the same way, within 7 days."""
    done = await complete_reset(request, running, settings, body.token, body.new_password)
    return ResetDone(sessions_ended=done.sessions_ended)


async def complete_reset(
    request: Request, running: GatewayServices, settings: Settings, token: str, new_password: str
) -> PasswordReset:
    """The confirmation of `POST /api/password-reset/confirm` (the API and the console's
    page): failures limited per client address like sign-ins."""
    ip = client_ip(request)
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
    store = running.limiter.store
    attempt = await _admit(store, checks, N_("failed password reset attempts"))
    async with running.engine.begin() as conn:
        done = await reset_password(conn, token, new_password, ip)
    await store.finish(attempt, [], checks, -1)
    return done
