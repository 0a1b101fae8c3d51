"""The operators' users: everyone of the installation, searched by email or name,
organization, role and state, a page at a time; creating a user in any organization as
`POST /api/orgs/{id}/users` does (a first password, or none: they set one through
"forgot password", or use only the keys made for them); and a user's page to change
their name and email, role, or disable and enable them, through the service behind
`PATCH /api/users/{id}` with its checks (nobody changes their own role or disables
themselves). The API cannot move a user to another organization. Only operators."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from aisonar.accounts import services as accounts
from aisonar.accounts.services import (
    MemberChange,
    NewMember,
    Page,
    UserSearch,
    add_member_and_invite,
    change_member,
    reachable_user,
)
from aisonar.console.csrf import checked_form
from aisonar.console.org import org_path
from aisonar.console.paging import pager
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.validation import invalid
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput
from aisonar.i18n import N_
from aisonar.store.roles import Role
from aisonar.web.deps import Config, Engine, Mailer, operator

router = console_router()

USERS_PATH = "/console/operator/users"
PAGE_SIZE = 50
_CREATE_FIELDS = ("org_id", "email", "name", "role")
_STATES = ("active", "disabled")
_STATE_CHOICE = InvalidInput(N_("disabled: yes or no"), param="disabled")
_LABELS: Mapping[str, str] = {"org_id": N_("Organization")}
_NEW_MEMBER = TypeAdapter(NewMember)
_CHANGE = TypeAdapter(MemberChange)


def user_path(user_id: str) -> str:
    return f"{USERS_PATH}/{user_id}"


async def _users_page(
    member: MemberVisit,
    db: Engine,
    search: Mapping[str, str],
    number: int,
    *,
    mails: bool,
    typed: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    await operator(member.principal)
    wanted = UserSearch(
        text=search["q"], org_id=search["org_id"], role=search["role"], state=search["state"]
    )
    newest_first = Page(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, newest_first=True)
    async with db.connect() as conn:
        count = await accounts.count_users(conn, wanted)
        found = await accounts.users_page(conn, newest_first, wanted)
        chosen = {search["org_id"], (typed or {}).get("org_id", "")} - {""}
        names = await accounts.org_names(conn, chosen | {user.org_id for user in found})
    context = {
        "users": found,
        "count": count,
        "search": search,
        "pages": pager(USERS_PATH, search, number, count, PAGE_SIZE),
        # The organizations to suggest: the listed users' and the one asked for, never
        # every organization of the installation.
        "orgs": sorted(names.items(), key=lambda org: org[1].casefold()),
        "roles": list(Role),
        "states": _STATES,
        "typed": typed
        or {
            "org_id": search["org_id"],
            "email": "",
            "name": "",
            "role": Role.USER.value,
            "invite": "yes" if mails else "",
        },
        "mails": mails,
        "error": error,
    }
    return page(member, "operator_users.html", context, status=status)


@router.get(USERS_PATH)
async def users_page(
    member: Member,
    db: Engine,
    mailer: Mailer,
    q: Annotated[str, Query(max_length=320)] = "",
    org_id: Annotated[str, Query(max_length=64)] = "",
    role: Annotated[str, Query(max_length=32)] = "",
    state: Annotated[str, Query(max_length=32)] = "",
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    search = {"q": q.strip(), "org_id": org_id, "role": role, "state": state}
    return await _users_page(member, db, search, number, mails=mailer is not None)


@router.post(USERS_PATH)
async def create_user(
    request: Request, member: Member, db: Engine, mailer: Mailer, settings: Config
) -> Response:
    """`POST /api/orgs/{id}/users`: the organization, email, name, role, and either an
    invitation mailed to them (the password typed is then ignored) or the first
    password, if any."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in _CREATE_FIELDS}
    invite = form.checked("invite")
    typed["invite"] = "yes" if invite else ""
    password = None if invite else form.secret("password") or None
    try:
        new = _NEW_MEMBER.validate_python(
            {
                "email": typed["email"],
                "name": typed["name"],
                "role": typed["role"] or Role.USER.value,
                "password": password,
                "invite": invite,
            }
        )
        if not typed["org_id"]:
            raise InvalidInput(N_("Choose an organization."), param="org_id")
        added = await add_member_and_invite(
            db, mailer, settings, member.principal, member.actor, typed["org_id"], new
        )
    except (ValidationError, AISonarError) as failure:
        error = invalid(failure, _LABELS) if isinstance(failure, ValidationError) else failure
        message = error_text(error, member.language)
        blank = {"q": "", "org_id": "", "role": "", "state": ""}
        return await _users_page(
            member,
            db,
            blank,
            1,
            mails=mailer is not None,
            typed=typed,
            error=message,
            status=error.status,
        )
    return see_other(user_path(added.id))


# A user's page.


async def _user_page(
    member: MemberVisit,
    db: Engine,
    user_id: str,
    *,
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    await operator(member.principal)
    async with db.connect() as conn:
        user = await reachable_user(conn, member.principal, user_id)
        keys = await accounts.count_keys(conn, user_id=user.id)
    context: dict[str, Any] = {
        "user": user,
        "keys": keys,
        "member_page": org_path(user.org_id, "members", user.id),
        "roles": list(Role),
        "itself": user.id == member.principal.user_id,
        "typed": {"name": user.name, "email": user.email, "role": user.role, **(typed or {})},
        "errors": errors or {},
        "changed": member.request.query_params.get("changed", ""),
    }
    return page(member, "operator_user.html", context, status=status)


@router.get(USERS_PATH + "/{user_id}")
async def user_page(member: Member, db: Engine, user_id: str) -> Response:
    return await _user_page(member, db, user_id)


async def _change(
    member: MemberVisit,
    db: Engine,
    user_id: str,
    section: str,
    typed: Mapping[str, str],
    change: Mapping[str, Any],
) -> Response:
    """`PATCH /api/users/{id}` with `change`; a refusal is shown beside its form."""
    await operator(member.principal)
    try:
        changed = _CHANGE.validate_python(change)
        async with db.begin() as conn:
            await change_member(
                conn, member.principal, member.actor, member.session_id, user_id, changed
            )
    except (ValidationError, AISonarError) as failure:
        error = invalid(failure) if isinstance(failure, ValidationError) else failure
        if error.status == 404:
            raise error from None
        message = error_text(error, member.language)
        return await _user_page(
            member, db, user_id, typed=typed, errors={section: message}, status=error.status
        )
    return see_other(f"{user_path(user_id)}?changed={section}")


@router.post(USERS_PATH + "/{user_id}/details")
async def change_details(request: Request, member: Member, db: Engine, user_id: str) -> Response:
    """The name, and the email address (at once, unconfirmed: every session of the user
    ends and both addresses are told, as the API does); only what differs is sent."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = {"name": form.text("name"), "email": form.text("email")}
    async with db.connect() as conn:
        user = await reachable_user(conn, member.principal, user_id)
    change: dict[str, Any] = {}
    if typed["name"] != user.name:
        change["name"] = typed["name"]
    if typed["email"].lower() != user.email:
        change["email"] = typed["email"]
    if not change:
        return see_other(user_path(user_id))
    return await _change(member, db, user_id, "details", typed, change)


@router.post(USERS_PATH + "/{user_id}/role")
async def change_role(request: Request, member: Member, db: Engine, user_id: str) -> Response:
    await operator(member.principal)
    form = await checked_form(request, member)
    role = form.text("role")
    return await _change(member, db, user_id, "role", {"role": role}, {"role": role})


@router.post(USERS_PATH + "/{user_id}/state")
async def change_state(request: Request, member: Member, db: Engine, user_id: str) -> Response:
    """Disable (`disabled=yes`: their keys, tokens and sessions stop within a second) or
    enable (`disabled=no`) the user."""
    await operator(member.principal)
    form = await checked_form(request, member)
    choice = form.text("disabled")
    if choice not in ("yes", "no"):
        message = error_text(_STATE_CHOICE, member.language)
        return await _user_page(member, db, user_id, errors={"state": message}, status=400)
    return await _change(member, db, user_id, "state", {}, {"disabled": choice == "yes"})
