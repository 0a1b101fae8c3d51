"""Who is looking at a console page and in which language: the signed-in person (from
the session cookie) with the policies they still have to acknowledge and their unread
notices, the policies published, the cookie banner's choice, and the language: the
person's profile, else the language cookie, else the browser's Accept-Language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from aisonar.accounts import services as accounts
from aisonar.accounts.models import User
from aisonar.accounts.services import ActiveSession, Principal
from aisonar.audit.models import Actor
from aisonar.i18n import Language
from aisonar.notify.services import reading
from aisonar.privacy.services import (
    CONSENT_COOKIE,
    LANGUAGE_COOKIE,
    ConsentChoice,
    Policy,
    PolicyStanding,
    consent_choice,
    current_policies,
    standings,
)
from aisonar.web.deps import Engine, Session, client_ip

# Accept-Language tags (lower case) read as Simplified Chinese; Traditional is not offered.
_SIMPLIFIED_CHINESE_TAGS = frozenset({"zh", "zh-cn", "zh-sg", "zh-hans", "zh-hans-cn"})


class SignInFirst(Exception):
    """A page for signed-in people was asked for without a session."""


@dataclass(frozen=True)
class Visit:
    request: Request
    language: Language
    # None until the visitor answers the cookie banner.
    consent: ConsentChoice | None
    session: ActiveSession | None = None
    user: User | None = None
    # The policies published now, which the footer links to.
    policies: tuple[Policy, ...] = ()
    # The current policies the person has not acknowledged since their last material change.
    policies_due: tuple[PolicyStanding, ...] = ()
    # How many notices of the person's inbox are unread.
    unread_notices: int = 0


@dataclass(frozen=True)
class MemberVisit(Visit):
    """A visit of a signed-in person: `session` and `user` are set."""

    @property
    def principal(self) -> Principal:
        assert self.session is not None
        return self.session.principal

    @property
    def person(self) -> User:
        assert self.user is not None
        return self.user

    @property
    def session_id(self) -> str:
        assert self.session is not None
        return self.session.id

    @property
    def actor(self) -> Actor:
        """The person as the audit log records them, with the address they came from."""
        return Actor(self.principal.email, self.principal.user_id, client_ip(self.request))

    @property
    def csrf_token(self) -> str:
        assert self.session is not None
        return self.session.csrf_token


def language_of(value: str | None) -> Language | None:
    try:
        return Language(value) if value else None
    except ValueError:
        return None


def browser_language(accept_language: str) -> Language:
    """The first language of the header's, by preference, that the console speaks."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag in _SIMPLIFIED_CHINESE_TAGS:
            return Language.SIMPLIFIED_CHINESE
        if tag == "en" or tag.startswith("en-"):
            return Language.ENGLISH
    return Language.ENGLISH


def _anonymous_language(request: Request) -> Language:
    chosen = language_of(request.cookies.get(LANGUAGE_COOKIE))
    return chosen or browser_language(request.headers.get("accept-language", ""))


async def visit(request: Request, db: Engine, signed_in: Session) -> Visit:
    consent = consent_choice(request.cookies.get(CONSENT_COOKIE))
    if signed_in is None:
        async with db.connect() as conn:
            published = tuple(await current_policies(conn))
        return Visit(request, _anonymous_language(request), consent, policies=published)
    async with db.connect() as conn:
        user = await accounts.get_user(conn, signed_in.principal.user_id)
        standing = await standings(conn, user.id)
        unread = (await reading(conn, signed_in.principal)).unread
    language = language_of(user.language) or _anonymous_language(request)
    return MemberVisit(
        request,
        language,
        consent,
        signed_in,
        user,
        policies=tuple(s.policy for s in standing),
        policies_due=tuple(s for s in standing if s.needs_acknowledgement),
        unread_notices=unread,
    )


async def member_visit(found: Annotated[Visit, Depends(visit)]) -> MemberVisit:
    if not isinstance(found, MemberVisit):
        raise SignInFirst()
    return found


Visitor = Annotated[Visit, Depends(visit)]
Member = Annotated[MemberVisit, Depends(member_visit)]
