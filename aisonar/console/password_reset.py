"""A forgotten password, reset without signing in (`/console/reset-password`, the page the
reset mail links to): a form asking for the address, answered alike for every address
(`POST /api/password-reset`), and, opened with the mailed `?token=`, a form for the new
password that completes the reset (`POST /api/password-reset/confirm`: every session
ends) and sends to sign in. Through the same functions, limits and audit as the API.
Opened with an invitation's token, the same form is titled "Choose your password" and
greets the invited member: it sets their first password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import BackgroundTasks, Query, Request, Response
from pydantic import ValidationError

from aisonar.accounts.services import (
    RESET_PAGE,
    Invited,
    ask_for_reset,
    complete_reset,
    invited_by,
    send_reset_mail,
)
from aisonar.console.auth import invalid
from aisonar.console.csrf import checked_form
from aisonar.console.render import error_text, page
from aisonar.console.routing import SIGN_IN_PATH, console_router, see_other
from aisonar.console.visit import Visit, Visitor
from aisonar.errors import AISonarError
from aisonar.i18n import translations
from aisonar.web.deps import Config, Engine, Mailer, Services, client_ip
from aisonar.web.inputs import ResetConfirm, ResetRequest

router = console_router()

CONFIRM_PATH = RESET_PAGE + "/confirm"
# Where the sign-in page says the password was reset, or the first one chosen.
SIGN_IN_AFTER_RESET = SIGN_IN_PATH + "?reset=done"
SIGN_IN_AFTER_INVITATION = SIGN_IN_PATH + "?reset=welcome"


def _form(
    visitor: Visit,
    context: dict[str, Any],
    *,
    status: int = 200,
    error: AISonarError | ValidationError | str | None = None,
) -> Response:
    """The page in one of its states: `token` set shows the new-password form, `sent`
    the answer, else the address form."""
    if isinstance(error, ValidationError):
        message: str | None = error_text(invalid(error), visitor.language)
    elif isinstance(error, AISonarError):
        message = error_text(error, visitor.language)
    else:
        message = error
    values = {
        "token": "",
        "sent": False,
        "email": "",
        "error": message,
        "invited": None,
        "mails": True,
        **context,
    }
    response = page(visitor, "password_reset.html", values, status=status)
    if isinstance(error, AISonarError) and error.retry_after is not None:
        response.headers["retry-after"] = error.retry_after
    return response


async def _invited(db: Engine, token: str) -> Invited | None:
    """Whom the token invites, if it is an invitation's: the page then greets them."""
    async with db.connect() as conn:
        return await invited_by(conn, token)


@router.get(RESET_PAGE)
async def reset_page(
    visitor: Visitor,
    db: Engine,
    mailer: Mailer,
    token: Annotated[str, Query(max_length=200)] = "",
    sent: bool = False,
) -> Response:
    invited = await _invited(db, token)
    mails = mailer is not None
    shown = {"token": token, "sent": sent and not token, "invited": invited, "mails": mails}
    return _form(visitor, shown)


@router.post(RESET_PAGE)
async def ask_for_a_reset(
    request: Request,
    visitor: Visitor,
    tasks: BackgroundTasks,
    running: Services,
    settings: Config,
    mailer: Mailer,
) -> Response:
    """The same answer for every address; the mail, if any, goes out after it."""
    form = await checked_form(request, visitor)
    typed = form.text("email")
    try:
        body = ResetRequest(email=typed)
        mailed = await ask_for_reset(
            running.engine, running.limiter.store, settings, mailer, body.email, client_ip(request)
        )
    except (ValidationError, AISonarError) as error:
        status = 400 if isinstance(error, ValidationError) else error.status
        return _form(visitor, {"email": typed}, status=status, error=error)
    if mailed is not None and mailer is not None:
        tasks.add_task(send_reset_mail, mailer, settings, mailed)
    return see_other(RESET_PAGE + "?sent=true")


@router.post(CONFIRM_PATH)
async def set_new_password(
    request: Request, visitor: Visitor, running: Services, settings: Config
) -> Response:
    form = await checked_form(request, visitor)
    token = form.text("token")
    new_password = form.secret("new_password")
    if not token:
        return see_other(RESET_PAGE)
    shown = {"token": token, "invited": await _invited(running.engine, token)}
    if new_password != form.secret("repeat_password"):
        gettext = translations(visitor.language).gettext
        message = gettext("The new password and its repetition differ.")
        return _form(visitor, shown, status=400, error=message)
    try:
        body = ResetConfirm(token=token, new_password=new_password)
        done = await complete_reset(
            running.engine,
            running.limiter.store,
            settings,
            body.token,
            body.new_password,
            client_ip(request),
        )
    except (ValidationError, AISonarError) as error:
        status = 400 if isinstance(error, ValidationError) else error.status
        return _form(visitor, shown, status=status, error=error)
    return see_other(SIGN_IN_AFTER_INVITATION if done.first_password else SIGN_IN_AFTER_RESET)
