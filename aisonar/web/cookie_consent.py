"""The visitor's cookie choice as both front ends keep it: the `aisonar_consent` cookie
(strictly necessary: it only remembers the choice; six months; readable by the console's
script, so not HttpOnly) and, for a signed-in person, their recorded consent to analytics
(`privacy/consents.py`). The API's `/api/cookie-consent` and the console's banner both
come here; each checks the request's CSRF token its own way first."""

from __future__ import annotations

from typing import Annotated

from fastapi import Cookie, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts.services import ActiveSession
from aisonar.audit.models import Actor
from aisonar.privacy.services import (
    CONSENT_COOKIE,
    CONSENT_MAX_AGE_S,
    ConsentChoice,
    Purpose,
    record_choice,
)
from aisonar.web.deps import client_ip

ConsentCookie = Annotated[
    str | None, Cookie(alias=CONSENT_COOKIE, description="`analytics` or `necessary`.")
]


async def keep_cookie_choice(
    request: Request,
    response: Response,
    signed_in: ActiveSession | None,
    db: AsyncEngine,
    analytics: bool,
) -> ConsentChoice:
    """Set the consent cookie to the choice, and record a signed-in person's choice as
    their consent to analytics. The caller has checked the request's CSRF token (the API's
    header, the console's form field)."""
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
