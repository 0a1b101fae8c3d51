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

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StrictBool

from aisonar.accounts.services import CSRF_HEADER
from aisonar.analytics.services import PrivacySignals, visitor_allows_counting
from aisonar.i18n import N_
from aisonar.privacy.services import ConsentChoice, consent_choice
from aisonar.web.cookie_consent import ConsentCookie, keep_cookie_choice
from aisonar.web.deps import Engine, Session
from aisonar.web.errors import Forbidden
from aisonar.web.same_origin import refuse_cross_site

router = APIRouter(prefix="/api/cookie-consent", tags=["privacy"])


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
