"""The person's API keys: the list (newest first, a page at a time, read in SQL),
creating one (name, models, expiry, what it may do, the addresses it may be used from;
the secret shown once, on the page that answers the form), and revoking one after a
confirmation page; through the same services as `/api/me/keys`
(`accounts/key_changes.py`). A key's own page is `key_detail.py`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from aisonar.accounts import services as accounts
from aisonar.accounts.models import KeyScope
from aisonar.accounts.services import NewKey, Page, create_key_for, reachable_key, revoke_key_of
from aisonar.console.auth import invalid
from aisonar.console.csrf import checked_form
from aisonar.console.paging import pager
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput
from aisonar.i18n import N_
from aisonar.web.deps import Engine

router = console_router()

_NEW_KEY = TypeAdapter(NewKey)

KEYS_PATH = "/console/keys"
PAGE_SIZE = 50
KEY_FIELDS = ("name", "models", "expires", "scope", "allowed_ips")
# The labels of the key forms' own fields, for the API's validation messages.
KEY_LABELS: Mapping[str, str] = {
    "models": N_("Models"),
    "expires_at": N_("Expires"),
    "scope": N_("What it may do"),
    "allowed_ips": N_("Addresses it may be used from"),
}


def expiry(value: str) -> datetime | None:
    """A key given a date (`YYYY-MM-DD`) works until the end of that day, UTC."""
    if not value:
        return None
    try:
        last_day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("the expiry is a date, YYYY-MM-DD"), param="expires") from None
    return datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def model_names(value: str) -> list[str] | None:
    """Models separated by commas or spaces; none is every model."""
    names = [name for name in value.replace(",", " ").split() if name]
    return names or None


def addresses(value: str) -> list[str] | None:
    """Addresses or CIDR blocks separated by commas, spaces or lines; none is anywhere."""
    found = [part for part in value.replace(",", " ").split() if part]
    return found or None


def new_key(typed: Mapping[str, str]) -> NewKey:
    """The key the form's fields (`KEY_FIELDS`) describe, checked as the API checks it."""
    return _NEW_KEY.validate_python(
        {
            "name": typed["name"],
            "models": model_names(typed["models"]),
            "expires_at": expiry(typed["expires"]),
            "allowed_ips": addresses(typed["allowed_ips"]),
            "scope": typed["scope"] or KeyScope.ALL,
        }
    )


async def _keys_page(
    member: MemberVisit,
    db: Engine,
    form: dict[str, str],
    error: str | None,
    status: int,
    number: int = 1,
) -> Response:
    """The person's keys, newest first, a page at a time (read in SQL)."""
    mine = member.principal.user_id
    newest_first = Page(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, newest_first=True)
    async with db.connect() as conn:
        count = await accounts.count_keys(conn, user_id=mine)
        keys = await accounts.keys_page(conn, newest_first, user_id=mine)
    context: dict[str, Any] = {
        "keys": keys,
        "pages": pager(KEYS_PATH, {}, number, count, PAGE_SIZE),
        "form": form,
        "error": error,
        "scopes": list(KeyScope),
    }
    return page(member, "keys.html", context, status=status)


@router.get(KEYS_PATH)
async def keys_page(
    member: Member,
    db: Engine,
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    blank = dict.fromkeys(KEY_FIELDS, "") | {"scope": KeyScope.ALL.value}
    return await _keys_page(member, db, blank, None, 200, number)


@router.post(KEYS_PATH)
async def create_key(request: Request, member: Member, db: Engine) -> Response:
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in KEY_FIELDS}
    try:
        new = new_key(typed)
        async with db.begin() as conn:
            key, secret = await create_key_for(conn, member.actor, member.principal.email, new)
    except ValidationError as error:
        message = error_text(invalid(error, KEY_LABELS), member.language)
        return await _keys_page(member, db, typed, message, 400)
    except AISonarError as error:
        message = error_text(error, member.language)
        return await _keys_page(member, db, typed, message, error.status)
    return page(member, "key_created.html", {"key": key, "secret": secret}, status=201)


@router.get(KEYS_PATH + "/{key_id}/revoke")
async def confirm_revocation(member: Member, db: Engine, key_id: str) -> Response:
    async with db.connect() as conn:
        key = await reachable_key(conn, member.principal, key_id, own_only=True)
    return page(member, "key_revoke.html", {"key": key})


@router.post(KEYS_PATH + "/{key_id}/revoke")
async def revoke_key(request: Request, member: Member, db: Engine, key_id: str) -> Response:
    await checked_form(request, member)
    async with db.begin() as conn:
        await revoke_key_of(conn, member.principal, member.actor, key_id, own_only=True)
    return see_other(KEYS_PATH)
