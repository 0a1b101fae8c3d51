"""What the layout offers on every page: the language switch (kept in the language
cookie, and in a signed-in person's profile, as `PATCH /api/me` keeps it), the cookie
banner (the same choice, through the same code, as `POST /api/cookie-consent`), and the
banner of policies to acknowledge, with the policies' own pages."""

from __future__ import annotations

from fastapi import Request, Response

from aisonar.accounts.services import update_user
from aisonar.console.csrf import checked_form
from aisonar.console.render import page
from aisonar.console.routing import console_router, safe_next, see_other
from aisonar.console.visit import Member, MemberVisit, Visitor, language_of
from aisonar.errors import InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.privacy.services import (
    LANGUAGE_COOKIE,
    LANGUAGE_MAX_AGE_S,
    acknowledge,
    current_policy,
    policy_kind,
)
from aisonar.web.cookie_consent import keep_cookie_choice
from aisonar.web.deps import Engine

router = console_router()


@router.post("/console/language")
async def choose_language(request: Request, visitor: Visitor, db: Engine) -> Response:
    form = await checked_form(request, visitor)
    language = language_of(form.text("language"))
    if language is None:
        raise InvalidInput(N_("choose en or zh-Hans"), param="language")
    if isinstance(visitor, MemberVisit):
        async with db.begin() as conn:
            await update_user(
                conn, visitor.principal.user_id, language=language, actor=visitor.actor
            )
    response = see_other(safe_next(form.text("next")))
    response.set_cookie(
        LANGUAGE_COOKIE,
        language.value,
        max_age=LANGUAGE_MAX_AGE_S,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )
    return response


@router.post("/console/cookies")
async def choose_cookies(request: Request, visitor: Visitor, db: Engine) -> Response:
    form = await checked_form(request, visitor)
    answer = form.text("analytics")
    if answer not in ("yes", "no"):
        raise InvalidInput(N_("answer yes or no"), param="analytics")
    response = see_other(safe_next(form.text("next")))
    await keep_cookie_choice(request, response, visitor.session, db, answer == "yes")
    return response


@router.post("/console/policies/{policy_id}/acknowledge")
async def acknowledge_policy(
    request: Request, member: Member, db: Engine, policy_id: str
) -> Response:
    form = await checked_form(request, member)
    async with db.begin() as conn:
        await acknowledge(conn, member.principal.user_id, policy_id, actor=member.actor)
    return see_other(safe_next(form.text("next")))


@router.get("/console/policies/{kind}")
async def policy_page(visitor: Visitor, db: Engine, kind: str) -> Response:
    wanted = policy_kind(kind)
    async with db.connect() as conn:
        policy = await current_policy(conn, wanted)
    if policy is None:
        raise NotFound(N_("no {value} policy is published"), value=wanted.value)
    return page(visitor, "policy.html", {"policy": policy})
