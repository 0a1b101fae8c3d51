"""An organization's members, for its admins and for operators: the list (role, state,
spend this month, active keys; a page read in SQL, with the same few queries however
many members), adding a member, and a member's page (their spend, their keys with
revocation, their role, disabling or enabling them, their own limits); through the
services behind `POST /api/orgs/{id}/users`, `PATCH /api/users/{id}`,
`GET /api/users/{id}/keys`, `DELETE /api/keys/{id}` and `/api/limits/user/{id}`
(`accounts/members.py`, `accounts/access.py`, `limits/services.py`), with their checks.
Disabling a member ends their sessions and stops their keys within a second, as the API
does. A member may be invited by email instead of given a password (`"invite": true`),
and one without a password is sent a new invitation from their page
(`POST /api/users/{id}/invite`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.models import ApiKey, KeyScope, Organization, User
from aisonar.accounts.services import (
    MemberChange,
    NewMember,
    Page,
    Principal,
    UserSearch,
    active_key_counts,
    add_member_and_invite,
    administered_org,
    change_member,
    count_keys,
    count_users,
    invite_again,
    keys_page,
    member_of,
    pending_invitations,
    reachable_key,
    revoke_key_of,
    users_page,
)
from aisonar.analytics.services import Filters, GroupBy, summaries_of, summarize, window
from aisonar.clock import utcnow
from aisonar.console.auth import invalid
from aisonar.console.csrf import checked_form
from aisonar.console.keys import KEY_FIELDS
from aisonar.console.org import (
    effective_rows,
    limit_changes,
    month_start,
    org_context,
    org_path,
    shown_limits,
    typed_limits,
)
from aisonar.console.paging import pager
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.limits.models import DIMENSIONS, Subject, SubjectKind
from aisonar.limits.services import change_limits_of, limits_of
from aisonar.store.roles import Role
from aisonar.web.analytics_scope import scoped
from aisonar.web.deps import Config, Engine, Mailer
from aisonar.web.deps import settings as configured

router = console_router()

PAGE_SIZE = 50
_TOP_MODELS = 10
_ADD_FIELDS = ("email", "name", "role")
_STATE_CHOICE = InvalidInput(N_("disabled: yes or no"), param="disabled")
_NEW_MEMBER = TypeAdapter(NewMember)
_CHANGE = TypeAdapter(MemberChange)


def assignable_roles(caller: Principal) -> list[Role]:
    """The roles the caller may give: only an operator makes an operator."""
    return [role for role in Role if role is not Role.OPERATOR or caller.is_operator]


def may_change(caller: Principal, user: User) -> bool:
    """Whether the API lets the caller change this member's role or state: not their own,
    and an operator's only if they are one."""
    return user.id != caller.user_id and (caller.is_operator or user.role != Role.OPERATOR)


# The list, and adding a member.


async def _members_page(
    member: MemberVisit,
    db: Engine,
    org_id: str,
    number: int,
    *,
    mails: bool = False,
    typed: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    person = member.principal
    _, until = window(None, None)
    now = utcnow()
    async with db.connect() as conn:
        org = await administered_org(conn, person, org_id)
        scope, _ = scoped(person, org.id, None)
        everyone = UserSearch(org_id=org.id)
        count = await count_users(conn, everyone)
        page_of = Page(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        shown = await users_page(conn, page_of, everyone)
        ids = [user.id for user in shown]
        month = Filters(since=month_start(until), until=until, org_id=scope, user_ids=tuple(ids))
        spend = await summaries_of(conn, month, GroupBy.USER, ids)
        keys = await active_key_counts(conn, ids, now)
        invited = await pending_invitations(conn, ids)
    rows = [{"user": user, "spend": spend[user.id], "active_keys": keys[user.id]} for user in shown]
    context = {
        **org_context(org, "members"),
        "rows": rows,
        "count": count,
        "pages": pager(org_path(org.id, "members"), {}, number, count, PAGE_SIZE),
        "roles": assignable_roles(person),
        "typed": typed
        or {"email": "", "name": "", "role": Role.USER.value, "invite": "yes" if mails else ""},
        "error": error,
        # Who has no password yet but an invitation (working or expired).
        "invited": invited,
        "mails": mails,
    }
    return page(member, "org_members.html", context, status=status)


@router.get("/console/orgs/{org_id}/members")
async def members(
    member: Member,
    db: Engine,
    mailer: Mailer,
    org_id: str,
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    return await _members_page(member, db, org_id, number, mails=mailer is not None)


@router.post("/console/orgs/{org_id}/members")
async def add(
    request: Request, member: Member, db: Engine, mailer: Mailer, settings: Config, org_id: str
) -> Response:
    """`POST /api/orgs/{id}/users`: the new member's email, name and role, and either an
    invitation mailed to them (`invite`: the password typed is then ignored) or the
    password they first sign in with, if any."""
    form = await checked_form(request, member)
    typed = {name: form.text(name) for name in _ADD_FIELDS}
    invite = form.checked("invite")
    typed["invite"] = "yes" if invite else ""
    password = None if invite else form.secret("password") or None
    mails = mailer is not None
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
        added = await add_member_and_invite(
            db, mailer, settings, member.principal, member.actor, org_id, new
        )
    except (ValidationError, AISonarError) as failure:
        if isinstance(failure, AISonarError) and failure.status == 404:
            raise
        error = invalid(failure) if isinstance(failure, ValidationError) else failure
        message = error_text(error, member.language)
        return await _members_page(
            member, db, org_id, 1, mails=mails, typed=typed, error=message, status=error.status
        )
    return see_other(org_path(org_id, "members", added.id))


# A member's page.


async def _member_page(
    member: MemberVisit,
    db: Engine,
    settings: Config,
    org_id: str,
    user_id: str,
    number: int = 1,
    *,
    typed_limits: Mapping[str, str] | None = None,
    typed_key: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The member's page, with the page `number` of their keys, newest first."""
    person = member.principal
    since, until = window(None, None)
    invited_until = None
    async with db.connect() as conn:
        org, user = await member_of(conn, person, org_id, user_id)
        scope, user_scope = scoped(person, org.id, user.id)

        def over(start: datetime) -> Filters:
            return Filters(since=start, until=until, org_id=scope, user_id=user_scope)

        month = (await summarize(conn, over(month_start(until)), GroupBy.TOTAL))[0]
        last_30_days = (await summarize(conn, over(since), GroupBy.TOTAL))[0]
        models = await summarize(conn, over(since), GroupBy.MODEL, limit=_TOP_MODELS)
        count = await count_keys(conn, user_id=user.id)
        newest_first = Page(limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, newest_first=True)
        keys = await keys_page(conn, newest_first, user_id=user.id)
        limits = await limits_of(conn, person, Subject(SubjectKind.USER, user.id))
        if not user.password_set:
            invited_until = (await pending_invitations(conn, [user.id])).get(user.id)
    context: dict[str, Any] = {
        **org_context(org, "members"),
        "user": user,
        "currency": settings.currency,
        "month": month,
        "total": last_30_days,
        "models": models,
        "keys": keys,
        "key_pages": pager(org_path(org.id, "members", user.id), {}, number, count, PAGE_SIZE),
        "now": utcnow(),
        "changeable": may_change(person, user),
        "roles": assignable_roles(person),
        "limits": typed_limits if typed_limits is not None else shown_limits(limits),
        "effective": effective_rows(limits),
        "dimensions": DIMENSIONS,
        "errors": errors or {},
        "member_path": org_path(org.id, "members", user.id),
        "invited_until": invited_until,
        "invitation_sent": member.request.query_params.get("invitation") == "sent",
        "invitable": person.is_operator or user.role != Role.OPERATOR,
        "mails": bool(configured(member.request).smtp_url),
        "key_form": typed_key or dict.fromkeys(KEY_FIELDS, "") | {"scope": KeyScope.ALL.value},
        "scopes": list(KeyScope),
        "password_changed": member.request.query_params.get("password") == "set",
    }
    return page(member, "org_member.html", context, status=status)


@router.get("/console/orgs/{org_id}/members/{user_id}")
async def member_page(
    member: Member,
    db: Engine,
    settings: Config,
    org_id: str,
    user_id: str,
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    return await _member_page(member, db, settings, org_id, user_id, number)


async def member_refused(
    member: MemberVisit,
    db: Engine,
    settings: Config,
    org_id: str,
    user_id: str,
    section: str,
    failure: ValidationError | AISonarError,
    *,
    typed_limits: Mapping[str, str] | None = None,
    typed_key: Mapping[str, str] | None = None,
    passes: tuple[int, ...] = (404,),
    labels: Mapping[str, str] | None = None,
) -> Response:
    """The member's page again with the failure's text beside `section`'s form; a failure
    whose status is in `passes` stays the error page the API's refusal gives."""
    if isinstance(failure, ValidationError):
        error: AISonarError = invalid(failure, labels)
    elif failure.status in passes:
        raise failure
    else:
        error = failure
    return await _member_page(
        member,
        db,
        settings,
        org_id,
        user_id,
        typed_limits=typed_limits,
        typed_key=typed_key,
        errors={section: error_text(error, member.language)},
        status=error.status,
    )


async def _change_member(
    member: MemberVisit,
    db: Engine,
    settings: Config,
    org_id: str,
    user_id: str,
    section: str,
    change: MemberChange,
) -> Response:
    """`PATCH /api/users/{id}` with the change; a refusal the page can explain (such as
    changing one's own role) is shown beside its form."""
    try:
        async with db.begin() as conn:
            await member_of(conn, member.principal, org_id, user_id)
            await change_member(
                conn, member.principal, member.actor, member.session_id, user_id, change
            )
    except AISonarError as error:
        return await member_refused(member, db, settings, org_id, user_id, section, error)
    return see_other(org_path(org_id, "members", user_id))


@router.post("/console/orgs/{org_id}/members/{user_id}/role")
async def change_role(
    request: Request, member: Member, db: Engine, settings: Config, org_id: str, user_id: str
) -> Response:
    form = await checked_form(request, member)
    try:
        change = _CHANGE.validate_python({"role": form.text("role")})
    except ValidationError as error:
        return await member_refused(member, db, settings, org_id, user_id, "role", error)
    return await _change_member(member, db, settings, org_id, user_id, "role", change)


@router.post("/console/orgs/{org_id}/members/{user_id}/state")
async def change_state(
    request: Request, member: Member, db: Engine, settings: Config, org_id: str, user_id: str
) -> Response:
    """Disable (`disabled=yes`) or enable (`disabled=no`) the member."""
    form = await checked_form(request, member)
    choice = form.text("disabled")
    if choice not in ("yes", "no"):
        return await member_refused(member, db, settings, org_id, user_id, "state", _STATE_CHOICE)
    change = MemberChange(disabled=choice == "yes")
    return await _change_member(member, db, settings, org_id, user_id, "state", change)


@router.post("/console/orgs/{org_id}/members/{user_id}/invite")
async def send_invitation_again(
    request: Request,
    member: Member,
    db: Engine,
    mailer: Mailer,
    settings: Config,
    org_id: str,
    user_id: str,
) -> Response:
    """`POST /api/users/{id}/invite`: a new invitation, replacing the previous one, to a
    member without a password; mailed before the page comes back."""
    await checked_form(request, member)
    async with db.connect() as conn:
        await member_of(conn, member.principal, org_id, user_id)
    try:
        await invite_again(db, mailer, settings, member.principal, member.actor, user_id)
    except AISonarError as error:
        return await member_refused(member, db, settings, org_id, user_id, "invitation", error)
    return see_other(org_path(org_id, "members", user_id) + "?invitation=sent")


@router.post("/console/orgs/{org_id}/members/{user_id}/limits")
async def change_member_limits(
    request: Request, member: Member, db: Engine, settings: Config, org_id: str, user_id: str
) -> Response:
    """`PATCH /api/limits/user/{id}`: each value changed, `none` for each emptied."""
    form = await checked_form(request, member)
    typed = typed_limits(form)
    subject = Subject(SubjectKind.USER, user_id)
    try:
        async with db.begin() as conn:
            await member_of(conn, member.principal, org_id, user_id)
            current = shown_limits(await limits_of(conn, member.principal, subject))
            changes = limit_changes(typed, current)
            await change_limits_of(conn, member.principal, member.actor, subject, changes)
    except (ValidationError, AISonarError) as failure:
        return await member_refused(
            member,
            db,
            settings,
            org_id,
            user_id,
            "limits",
            failure,
            typed_limits=typed,
            passes=(403, 404),
        )
    return see_other(org_path(org_id, "members", user_id))


# Revoking a member's key, after a confirmation page.


async def _members_key(
    conn: AsyncConnection, caller: Principal, org_id: str, user_id: str, key_id: str
) -> tuple[Organization, User, ApiKey]:
    org, user = await member_of(conn, caller, org_id, user_id)
    key = await reachable_key(conn, caller, key_id)
    if key.user_id != user.id:
        raise NotFound(N_("no key with id {key_id!r}"), key_id=key_id)
    return org, user, key


@router.get("/console/orgs/{org_id}/members/{user_id}/keys/{key_id}/revoke")
async def confirm_revocation(
    member: Member, db: Engine, org_id: str, user_id: str, key_id: str
) -> Response:
    async with db.connect() as conn:
        org, user, key = await _members_key(conn, member.principal, org_id, user_id, key_id)
    context = {
        **org_context(org, "members"),
        "user": user,
        "key": key,
        "member_path": org_path(org.id, "members", user.id),
    }
    return page(member, "org_key_revoke.html", context)


@router.post("/console/orgs/{org_id}/members/{user_id}/keys/{key_id}/revoke")
async def revoke(
    request: Request, member: Member, db: Engine, org_id: str, user_id: str, key_id: str
) -> Response:
    """`DELETE /api/keys/{id}`: every running server refuses the key within a second."""
    await checked_form(request, member)
    async with db.begin() as conn:
        await _members_key(conn, member.principal, org_id, user_id, key_id)
        await revoke_key_of(conn, member.principal, member.actor, key_id)
    return see_other(org_path(org_id, "members", user_id))
