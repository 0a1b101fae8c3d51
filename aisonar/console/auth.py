"""Signing in and out, and signing up when the operator allows it: classic forms that
open the same kind of session as `POST /api/session` (and set the same cookie), through
the same code: throttled, audited, a notice from a new address."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError

from aisonar.accounts.services import COOKIE_NAME, TooManySignIns, end_session
from aisonar.config import Settings
from aisonar.console.csrf import checked_form
from aisonar.console.render import error_text, page
from aisonar.console.routing import (
    HOME_PATH,
    SIGN_IN_PATH,
    console_router,
    safe_next,
    see_other,
)
from aisonar.console.validation import invalid as invalid
from aisonar.console.visit import Member, MemberVisit, Visit, Visitor
from aisonar.errors import AISonarError, NotFound
from aisonar.i18n import N_, translations
from aisonar.privacy.services import PolicyKind, current_policy
from aisonar.web.deps import Config, Services
from aisonar.web.errors import Unauthenticated
from aisonar.web.ids import written_id
from aisonar.web.inputs import SignIn, SignUp
from aisonar.web.sessions import password_sign_in
from aisonar.web.sessions import sign_up as sign_up_and_in

router = console_router()

SIGN_UP_PATH = "/console/sign-up"
_SIGN_UP_FIELDS = ("email", "name", "company")


@router.get("/")
async def root(visitor: Visitor) -> Response:
    return see_other(HOME_PATH if isinstance(visitor, MemberVisit) else SIGN_IN_PATH)


@router.get(SIGN_IN_PATH)
async def sign_in_page(visitor: Visitor, settings: Config, next: str = HOME_PATH) -> Response:
    if isinstance(visitor, MemberVisit):
        return see_other(safe_next(next))
    return page(
        visitor,
        "sign_in.html",
        {"next": safe_next(next), "email": "", "error": None, "signup": settings.signup_enabled},
    )


@router.post(SIGN_IN_PATH)
async def sign_in(
    request: Request, visitor: Visitor, running: Services, settings: Config
) -> Response:
    form = await checked_form(request, visitor)
    target = safe_next(form.text("next"))
    response = see_other(target)
    gettext = translations(visitor.language).gettext
    try:
        body = SignIn(email=form.text("email"), password=form.secret("password"))
        await password_sign_in(request, response, running, settings, body.email, body.password)
    except (ValidationError, Unauthenticated):
        message = gettext("The email or password is wrong.")
        return _sign_in_again(visitor, form.text("email"), target, settings, message, 401)
    except TooManySignIns as error:
        message = gettext("Too many failed sign-ins; wait a while and try again.")
        refused = _sign_in_again(visitor, form.text("email"), target, settings, message, 429)
        if error.retry_after is not None:
            refused.headers["retry-after"] = error.retry_after
        return refused
    return response


def _sign_in_again(
    visitor: Visit, email: str, target: str, settings: Settings, message: str, status: int
) -> Response:
    context = {"next": target, "email": email, "error": message, "signup": settings.signup_enabled}
    return page(visitor, "sign_in.html", context, status=status)


@router.post("/console/sign-out")
async def sign_out(request: Request, member: Member, running: Services) -> Response:
    await checked_form(request, member)
    async with running.engine.begin() as conn:
        await end_session(conn, member.session_id)
    response = see_other(SIGN_IN_PATH)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


async def _sign_up_form(
    visitor: Visit, running: Services, fields: dict[str, Any], error: str | None, status: int
) -> Response:
    async with running.engine.connect() as conn:
        terms = await current_policy(conn, PolicyKind.TERMS)
    context = {"fields": fields, "error": error, "terms": terms}
    return page(visitor, "sign_up.html", context, status=status)


@router.get(SIGN_UP_PATH)
async def sign_up_page(visitor: Visitor, running: Services, settings: Config) -> Response:
    if not settings.signup_enabled:
        raise NotFound(N_("Sign-up is not open on this server; ask its operator for an account."))
    if isinstance(visitor, MemberVisit):
        return see_other(HOME_PATH)
    return await _sign_up_form(visitor, running, dict.fromkeys(_SIGN_UP_FIELDS, ""), None, 200)


@router.post(SIGN_UP_PATH)
async def sign_up(
    request: Request, visitor: Visitor, running: Services, settings: Config
) -> Response:
    """The API's own sign-up (`web/sessions.py`), so that the rules (age, terms, the
    limit per address) are the same."""
    form = await checked_form(request, visitor)
    fields: dict[str, Any] = {name: form.text(name) for name in _SIGN_UP_FIELDS}
    terms_version = form.text("accepted_terms_version")
    response = see_other(HOME_PATH)
    try:
        body = SignUp(
            **fields,
            password=form.secret("password"),
            age_confirmed=form.checked("age_confirmed"),
            accepted_terms_version=written_id(terms_version)
            if form.checked("accept_terms")
            else None,
        )
        await sign_up_and_in(request, response, running, settings, body)
    except ValidationError as error:
        message = error_text(invalid(error), visitor.language)
        return await _sign_up_form(visitor, running, fields, message, 400)
    except AISonarError as error:
        if error.status == 404:
            raise
        message = error_text(error, visitor.language)
        return await _sign_up_form(visitor, running, fields, message, error.status)
    return response
