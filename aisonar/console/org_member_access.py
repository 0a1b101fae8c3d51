"""What a member signs in and calls with, given from their page by their organization's
admins and operators: a password set for them (`accounts/password_set.py`: every
session of theirs ends, they are told, and it is audited; for someone who forgot theirs
on a server that sends no email, or who was added without one), and an API key made for
them (`POST /api/users/{id}/keys`: its secret shown once, on the page that answers)."""

from __future__ import annotations

from fastapi import Request, Response
from pydantic import ValidationError

from aisonar.accounts.services import create_key_for, member_of, set_member_password
from aisonar.console.csrf import checked_form
from aisonar.console.keys import KEY_FIELDS, KEY_LABELS, new_key
from aisonar.console.org import org_path
from aisonar.console.org_members import member_refused
from aisonar.console.render import page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member
from aisonar.errors import AISonarError
from aisonar.web.deps import Config, Engine

router = console_router()

MEMBER_PATH = "/console/orgs/{org_id}/members/{user_id}"


@router.post(MEMBER_PATH + "/password")
async def set_their_password(
    request: Request, member: Member, db: Engine, settings: Config, org_id: str, user_id: str
) -> Response:
    """Their new password, checked like any; they are signed out everywhere."""
    form = await checked_form(request, member)
    try:
        async with db.begin() as conn:
            await member_of(conn, member.principal, org_id, user_id)
            await set_member_password(
                conn, member.principal, member.actor, user_id, form.secret("password")
            )
    except AISonarError as error:
        return await member_refused(member, db, settings, org_id, user_id, "password", error)
    return see_other(org_path(org_id, "members", user_id) + "?password=set#password")


@router.post(MEMBER_PATH + "/keys")
async def create_their_key(
    request: Request, member: Member, db: Engine, settings: Config, org_id: str, user_id: str
) -> Response:
    """A key of theirs, as they would make it themselves; the secret is shown once, here."""
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in KEY_FIELDS}
    try:
        new = new_key(typed)
        async with db.begin() as conn:
            _, user = await member_of(conn, member.principal, org_id, user_id)
            key, secret = await create_key_for(conn, member.actor, user.email, new)
    except (ValidationError, AISonarError) as failure:
        return await member_refused(
            member,
            db,
            settings,
            org_id,
            user_id,
            "key",
            failure,
            typed_key=typed,
            labels=KEY_LABELS,
        )
    context = {
        "key": key,
        "secret": secret,
        "owner": user,
        "owner_path": org_path(org_id, "members", user_id),
    }
    return page(member, "key_created.html", context, status=201)
