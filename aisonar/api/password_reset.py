"""`POST /api/password-reset` and `POST /api/password-reset/confirm`: a forgotten
password, reset with a token mailed to the account's address, without signing in
(`accounts/forgotten_password.py`).

Every request for an address is answered alike, whether it names an account or not, and
the mail goes out after the answer, so that neither the answer nor its time tells which
addresses have accounts. Requests are limited per address and per client address;
confirmations are limited like sign-ins, by the failures from one client address."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel

from aisonar.accounts.services import ask_for_reset, complete_reset, send_reset_mail
from aisonar.web.deps import Config, Mailer, Services, client_ip
from aisonar.web.inputs import ResetConfirm, ResetRequest

router = APIRouter(prefix="/api/password-reset", tags=["session"])

ANSWER = (
    "If an account that signs in with a password has this address, a link to reset its "
    "password was sent to it; the link works once, for one hour."
)


class ResetRequested(BaseModel):
    # The same for every address.
    message: str


class ResetDone(BaseModel):
    # Every session of the person was ended, this browser's included: sign in again.
    sessions_ended: int


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
    mailed = await ask_for_reset(
        running.engine, running.limiter.store, settings, mailer, body.email, client_ip(request)
    )
    if mailed is not None and mailer is not None:
        tasks.add_task(send_reset_mail, mailer, settings, mailed)
    return ResetRequested(message=ANSWER)


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
    done = await complete_reset(
        running.engine,
        running.limiter.store,
        settings,
        body.token,
        body.new_password,
        client_ip(request),
    )
    return ResetDone(sessions_ended=done.sessions_ended)
