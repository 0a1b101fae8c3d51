"""`/api/cookie-consent`: the visitor's choice in the console's cookie banner, kept in the
`aisonar_consent` cookie (strictly necessary: it only remembers the choice; six months;
readable by the console's script, so not HttpOnly), and whether the browser sends Do Not
Track or Global Privacy Control, which refuse analytics whatever the choice. Accepting
and refusing are the same call with another value, equal in every way: the banner must
give them equal weight. No sign-in is needed; cross-site requests are refused. A
signed-in person's choice is also recorded as their consent to analytics (with when and
under which privacy policy; `privacy/consents.py`), which is what decides whether their
page views count, in every browser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StrictBool
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts.sessions import CSRF_HEADER, ActiveSession
from aisonar.admin.deps import Engine, Session, client_ip
from aisonar.admin.errors import Forbidden
from aisonar.admin.same_origin import refuse_cross_site
from aisonar.audit.models import Actor
from aisonar.i18n import N_
from aisonar.privacy.consents import Purpose, record_choice
from aisonar.privacy.cookies import (
    CONSENT_COOKIE,
    CONSENT_MAX_AGE_S,
    ConsentChoice,
    consent_choice,
)
from aisonar.privacy.tracking import PrivacySignals, visitor_allows_counting

router = APIRouter(prefix="/api/cookie-consent", tags=["privacy"])

ConsentCookie = Annotated[
    str | None, Cookie(alias=CONSENT_COOKIE, description="`analytics` or `necessary`.")
]


class CookieConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # true: accept analytics; false: only the strictly necessary cookies.
    analytics: StrictBool


class CookieConsentOut(BaseModel):
    # None: the visitor has not chosen yet (the banner is shown).
    choice: ConsentChoice | None
    # Whether this visitor's page views are counted: analytics accepted and neither
    # signal on.
    analytics: bool
    do_not_track: bool
    global_privacy_control: bool

    @classmethod
    def of(cls, choice: ConsentChoice | None, signals: PrivacySignals) -> CookieConsentOut:
        return cls(
            choice=choice,
            analytics=visitor_allows_counting(choice, signals),
            do_not_track=signals.do_not_track,
            global_privacy_control=signals.global_privacy_control,
        )


@router.get("")
async def current_cookie_consent(
    request: Request, cookie: ConsentCookie = None
) -> CookieConsentOut:
    """The visitor's choice, and whether their browser refuses tracking (DNT, GPC)."""
    return CookieConsentOut.of(consent_choice(cookie), PrivacySignals.of(request.headers))


async def keep_cookie_choice(
    request: Request,
    response: Response,
    signed_in: ActiveSession | None,
    db: AsyncEngine,
    analytics: bool,
) -> ConsentChoice:
    """Set the consent cookie to the choice, and record a signed-in person's choice as
    their consent to analytics. The caller has checked the request's CSRF token (the API's
    header, the console's form field). The API and the console's banner both come here."""
    choice = ConsentChoice.ANALYTICS if analytics else ConsentChoice.NECESSARY
    if signed_in is not None:
        person = signed_in.principal
        async with db.begin() as conn:
            await record_choice(
                conn,
                person.user_id,
                Purpose.ANALYTICS,
                analytics,
                actor=Actor(person.email, person.user_id, client_ip(request)),
            )
    response.set_cookie(
        CONSENT_COOKIE,
        choice.value,
        max_age=CONSENT_MAX_AGE_S,
        httponly=False,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )
    return choice


@router.post("", dependencies=[Depends(refuse_cross_site)])
async def choose_cookies(
    body: CookieConsentIn, request: Request, response: Response, signed_in: Session, db: Engine
) -> CookieConsentOut:
    """Accept (`analytics: true`) or refuse (`false`) analytics; sets the consent cookie,
    and records a signed-in person's choice (which then needs the session's CSRF token)."""
    if signed_in is not None and not signed_in.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise Forbidden(
            N_("A signed-in change needs the session's CSRF token in {csrf_header}."),
            csrf_header=CSRF_HEADER,
        )
    choice = await keep_cookie_choice(request, response, signed_in, db, body.analytics)
    return CookieConsentOut.of(choice, PrivacySignals.of(request.headers))
