"""The person's profile: their name, company and language (as `PATCH /api/me` changes
them), their email address (a code mailed to the new one, as `POST /api/me/email` and
`/verify` do; the change waiting for its code is shown), and their password (as `POST
/api/me/password`: the current one checked, every other session ended). Through the same
functions as the API; each change audited there."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError

from aisonar.accounts.services import (
    ask_for_email_change,
    change_password,
    confirm_email_change,
    pending_email_change,
    update_user,
)
from aisonar.console.auth import invalid
from aisonar.console.csrf import checked_form
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError
from aisonar.i18n import translations
from aisonar.web.deps import Config, Engine, Mailer, Services
from aisonar.web.inputs import EmailChange, EmailVerify, PasswordChange, ProfileChange

router = console_router()

PROFILE_PATH = "/console/profile"
# What the page says after a change, by the `done` of its address.
DONE = frozenset({"details", "email-sent", "email-changed", "password"})
# The page's forms, each with its own error.
_SECTIONS = ("details", "email", "verify", "password")


def _failure(error: ValidationError | AISonarError, member: MemberVisit) -> tuple[str, int]:
    """The message and status a refused form is shown again with."""
    if isinstance(error, ValidationError):
        return error_text(invalid(error), member.language), 400
    return error_text(error, member.language), error.status


async def _profile_page(
    member: MemberVisit,
    db: Engine,
    *,
    status: int = 200,
    details: dict[str, str] | None = None,
    email: str = "",
    errors: dict[str, str] | None = None,
    done: str = "",
    ended: int | None = None,
    retry_after: str | None = None,
) -> Response:
    person = member.person
    async with db.connect() as conn:
        pending = await pending_email_change(conn, person.id)
    context: dict[str, Any] = {
        "person": person,
        "details": details
        or {"name": person.name, "company": person.company or "", "language": person.language},
        "email": email,
        "pending": pending,
        "errors": {**dict.fromkeys(_SECTIONS), **(errors or {})},
        "done": done if done in DONE else "",
        "ended": ended,
    }
    response = page(member, "profile.html", context, status=status)
    if retry_after is not None:
        response.headers["retry-after"] = retry_after
    return response


@router.get(PROFILE_PATH)
async def profile_page(member: Member, db: Engine, done: str = "", ended: int = -1) -> Response:
    return await _profile_page(
        member, db, done=done, ended=ended if done == "password" and ended >= 0 else None
    )


@router.post(PROFILE_PATH)
async def change_details(request: Request, member: Member, db: Engine) -> Response:
    """`PATCH /api/me` with the three fields: audited, and told to the person, when a
    value differs."""
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in ("name", "company", "language")}
    try:
        body = ProfileChange.model_validate(typed)
        async with db.begin() as conn:
            await update_user(
                conn,
                member.principal.user_id,
                name=body.name,
                company=body.company,
                language=body.language,
                actor=member.actor,
            )
    except (ValidationError, AISonarError) as error:
        message, status = _failure(error, member)
        return await _profile_page(
            member, db, status=status, details=typed, errors={"details": message}
        )
    return see_other(PROFILE_PATH + "?done=details")


@router.post(PROFILE_PATH + "/email")
async def request_email_change(
    request: Request, member: Member, running: Services, settings: Config, mailer: Mailer
) -> Response:
    """`POST /api/me/email`: with the current password, a code goes to the new address."""
    form = await checked_form(request, member)
    typed = form.text("email")
    try:
        body = EmailChange(email=typed, password=form.secret("password") or None)
        person = member.principal
        await ask_for_email_change(
            running.engine,
            running.limiter.store,
            settings,
            mailer,
            person.user_id,
            member.actor,
            body.email,
            body.password,
        )
    except (ValidationError, AISonarError) as error:
        message, status = _failure(error, member)
        retry_after = error.retry_after if isinstance(error, AISonarError) else None
        return await _profile_page(
            member,
            running.engine,
            status=status,
            email=typed,
            errors={"email": message},
            retry_after=retry_after,
        )
    return see_other(PROFILE_PATH + "?done=email-sent")


@router.post(PROFILE_PATH + "/email/verify")
async def verify_email_change(request: Request, member: Member, db: Engine) -> Response:
    """`POST /api/me/email/verify`: the code from the mail changes the address; every
    other session of the person ends."""
    form = await checked_form(request, member)
    try:
        body = EmailVerify(token=form.text("code"))
        async with db.begin() as conn:
            await confirm_email_change(
                conn,
                member.principal.user_id,
                body.token,
                keep_session=member.session_id,
                actor=member.actor,
            )
    except (ValidationError, AISonarError) as error:
        message, status = _failure(error, member)
        return await _profile_page(member, db, status=status, errors={"verify": message})
    return see_other(PROFILE_PATH + "?done=email-changed")


@router.post(PROFILE_PATH + "/password")
async def change_my_password(request: Request, member: Member, db: Engine) -> Response:
    """`POST /api/me/password`: the current password, then the new one twice (the
    repetition is the form's own check); every other session ends."""
    form = await checked_form(request, member)
    gettext = translations(member.language).gettext
    new_password = form.secret("new_password")
    if new_password != form.secret("repeat_password"):
        message = gettext("The new password and its repetition differ.")
        return await _profile_page(member, db, status=400, errors={"password": message})
    try:
        body = PasswordChange(
            current_password=form.secret("current_password"), new_password=new_password
        )
        async with db.begin() as conn:
            ended = await change_password(
                conn,
                member.principal.user_id,
                current=body.current_password,
                new=body.new_password,
                keep_session=member.session_id,
                actor=member.actor,
            )
    except (ValidationError, AISonarError) as error:
        message, status = _failure(error, member)
        return await _profile_page(member, db, status=status, errors={"password": message})
    return see_other(f"{PROFILE_PATH}?done=password&ended={ended}")
