"""The person's personal access tokens for the management API: the list, creating one
(its secret shown once; the session must have proved its password recently, as
`RecentlyAuthenticated` asks of `POST /api/me/tokens`), and revoking one after a
confirmation page; through the same functions as `/api/me/tokens`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import ValidationError

from aisonar.accounts import services as accounts
from aisonar.accounts.services import Page, TooManySignIns
from aisonar.console.auth import invalid
from aisonar.console.csrf import checked_form
from aisonar.console.keys import expiry
from aisonar.console.paging import pager
from aisonar.console.reauthentication import confirm_password, password_needed
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError
from aisonar.i18n import translations
from aisonar.web.deps import Engine
from aisonar.web.errors import ReauthenticationRequired

router = console_router()

TOKENS_PATH = "/console/profile/tokens"
_FIELDS = ("name", "expires")
PAGE_SIZE = 50


async def _tokens_page(
    member: MemberVisit,
    db: Engine,
    form: dict[str, str],
    error: str | None,
    status: int,
    retry_after: str | None = None,
    number: int = 1,
) -> Response:
    """The person's tokens, newest first, a page at a time (read in SQL)."""
    mine = member.principal.user_id
    newest_first = Page(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, newest_first=True)
    async with db.connect() as conn:
        count = await accounts.count_tokens(conn, mine)
        found = await accounts.list_tokens(conn, mine, newest_first)
    context: dict[str, Any] = {
        "tokens": found,
        "pages": pager(TOKENS_PATH, {}, number, count, PAGE_SIZE),
        "form": form,
        "error": error,
        "password_needed": password_needed(member),
    }
    response = page(member, "profile_tokens.html", context, status=status)
    if retry_after is not None:
        response.headers["retry-after"] = retry_after
    return response


async def own_token(db: Engine, member: MemberVisit, token_id: str) -> accounts.AccessToken:
    """One of the person's own tokens; anyone else's is not found, as the API says."""
    async with db.connect() as conn:
        return await accounts.get_token(conn, token_id, member.principal.user_id)


@router.get(TOKENS_PATH)
async def tokens_page(
    member: Member,
    db: Engine,
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    blank = dict.fromkeys(_FIELDS, "")
    return await _tokens_page(member, db, blank, None, 200, number=number)


@router.post(TOKENS_PATH)
async def create_token(request: Request, member: Member, db: Engine) -> Response:
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in _FIELDS}
    try:
        new = accounts.NewToken(name=typed["name"], expires_at=expiry(typed["expires"]))
        await confirm_password(request, member, form)
        async with db.begin() as conn:
            token, secret = await accounts.create_token(
                conn,
                member.principal.email,
                name=new.name,
                expires_at=new.expires_at,
                actor=member.actor,
            )
    except ValidationError as error:
        message = error_text(invalid(error), member.language)
        return await _tokens_page(member, db, typed, message, 400)
    except ReauthenticationRequired as error:
        gettext = translations(member.language).gettext
        message = gettext("Type your password to confirm it is you.")
        return await _tokens_page(member, db, typed, message, error.status)
    except TooManySignIns as error:
        gettext = translations(member.language).gettext
        message = gettext("Too many failed sign-ins; wait a while and try again.")
        return await _tokens_page(member, db, typed, message, 429, error.retry_after)
    except AISonarError as error:
        message = error_text(error, member.language)
        return await _tokens_page(member, db, typed, message, error.status, error.retry_after)
    return page(
        member, "profile_token_created.html", {"token": token, "secret": secret}, status=201
    )


@router.get(TOKENS_PATH + "/{token_id}/revoke")
async def confirm_revocation(member: Member, db: Engine, token_id: str) -> Response:
    token = await own_token(db, member, token_id)
    return page(member, "profile_token_revoke.html", {"token": token})


@router.post(TOKENS_PATH + "/{token_id}/revoke")
async def revoke_token(request: Request, member: Member, db: Engine, token_id: str) -> Response:
    await checked_form(request, member)
    async with db.begin() as conn:
        await accounts.revoke_token(conn, token_id, member.principal.user_id, actor=member.actor)
    return see_other(TOKENS_PATH)
