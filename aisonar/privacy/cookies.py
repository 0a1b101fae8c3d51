"""The cookie policy in code: every cookie the server sets, with its category, purpose and
lifetime, declared here and nowhere else (a test fails when a response sets a cookie
that is not). All are strictly necessary, so none waits for consent; analytics keeps no
cookie of its own: the consent cookie says whether page views may be counted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aisonar.accounts.sessions import COOKIE_NAME as SESSION_COOKIE

CONSENT_COOKIE = "aisonar_consent"
# About six months: the visitor is asked again after that.
CONSENT_MAX_AGE_S = 183 * 24 * 3600
LANGUAGE_COOKIE = "aisonar_language"
LANGUAGE_MAX_AGE_S = 365 * 24 * 3600


class CookieCategory(StrEnum):
    # Set without consent: the site cannot work, or cannot remember a refusal, without it.
    NECESSARY = "necessary"


class ConsentChoice(StrEnum):
    """What the visitor chose in the cookie banner, as the consent cookie holds it."""

    ANALYTICS = "analytics"
    NECESSARY = "necessary"


@dataclass(frozen=True)
class DeclaredCookie:
    name: str
    category: CookieCategory
    purpose: str
    lifetime: str
    # Whether page scripts may read it.
    script_readable: bool


COOKIES: tuple[DeclaredCookie, ...] = (
    DeclaredCookie(
        SESSION_COOKIE,
        CookieCategory.NECESSARY,
        "Keeps a signed-in person signed in (a random secret; the server keeps its hash).",
        "The session: AISONAR_SESSION_LIFETIME_S (12 hours by default), or until sign-out.",
        script_readable=False,
    ),
    DeclaredCookie(
        CONSENT_COOKIE,
        CookieCategory.NECESSARY,
        "Remembers the visitor's choice in the cookie banner: `analytics` or `necessary`.",
        "6 months.",
        script_readable=True,
    ),
    DeclaredCookie(
        LANGUAGE_COOKIE,
        CookieCategory.NECESSARY,
        "Remembers the language chosen in the console's language switch: `en` or `zh-Hans`.",
        "1 year.",
        script_readable=False,
    ),
)

DECLARED_NAMES = frozenset(cookie.name for cookie in COOKIES)


def consent_choice(cookie_value: str | None) -> ConsentChoice | None:
    """The choice the consent cookie records; None when there is none (or it is not one
    of the choices, as if the visitor had not chosen)."""
    try:
        return ConsentChoice(cookie_value) if cookie_value else None
    except ValueError:
        return None
