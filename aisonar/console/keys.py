"""The person's API keys: the list, creating one (name, models, expiry; the secret shown
once, on the page that answers the form), and revoking one after a confirmation page;
through the same functions as `/api/me/keys`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError

from aisonar.accounts import services as accounts
from aisonar.admin.deps import Engine
from aisonar.admin.keys import create_key_for, reachable_key, revoke_key_of
from aisonar.admin.schemas import KeyCreate
from aisonar.console.auth import invalid
from aisonar.console.csrf import checked_form
from aisonar.console.render import page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput

router = console_router()

KEYS_PATH = "/console/keys"
_FIELDS = ("name", "models", "expires")


def expiry(value: str) -> datetime | None:
    """A key given a date (`YYYY-MM-DD`) works until the end of that day, UTC."""
    if not value:
        return None
    try:
        last_day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("the expiry is a date, YYYY-MM-DD", param="expires") from None
    return datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def model_names(value: str) -> list[str] | None:
    """Models separated by commas or spaces; none is every model."""
    names = [name for name in value.replace(",", " ").split() if name]
    return names or None


async def _keys_page(
    member: MemberVisit, db: Engine, form: dict[str, str], error: str | None, status: int
) -> Response:
    async with db.connect() as conn:
        keys = await accounts.list_keys(conn, member.principal.email)
    context: dict[str, Any] = {
        "keys": list(reversed(keys)),
        "form": form,
        "error": error,
    }
    return page(member, "keys.html", context, status=status)


@router.get(KEYS_PATH)
async def keys_page(member: Member, db: Engine) -> Response:
    return await _keys_page(member, db, dict.fromkeys(_FIELDS, ""), None, 200)


@router.post(KEYS_PATH)
async def create_key(request: Request, member: Member, db: Engine) -> Response:
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in _FIELDS}
    try:
        body = KeyCreate(
            name=typed["name"],
            models=model_names(typed["models"]),
            expires_at=expiry(typed["expires"]),
        )
        async with db.begin() as conn:
            created = await create_key_for(conn, member.actor, member.principal.email, body)
    except ValidationError as error:
        return await _keys_page(member, db, typed, invalid(error).message, 400)
    except AISonarError as error:
        return await _keys_page(member, db, typed, error.message, error.status)
    return page(member, "key_created.html", {"key": created}, status=201)


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
