"""Users through the management API: themselves, their organization's admins, or an
operator may read a user and manage their keys."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.accounts import services as accounts
from aisonar.accounts.invitations import InvitationMailed, invite
from aisonar.accounts.membership import update_user
from aisonar.accounts.models import Role, User
from aisonar.accounts.principal import Principal
from aisonar.admin.invitations import (
    Invitation,
    InvitationNotSent,
    invitation_mail,
    may_invite,
    send_invitation,
)
from aisonar.admin.keys import create_key_for
from aisonar.admin.schemas import KeyCreate, KeyCreated, KeyOut, UserChange, UserOut
from aisonar.audit.models import Actor
from aisonar.config import Settings
from aisonar.errors import InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.notify.sender import Mail
from aisonar.web.deps import Acting, Caller, Config, Engine, Mailer, Session
from aisonar.web.errors import Forbidden

router = APIRouter(prefix="/api/users", tags=["users"])


async def reachable_user(conn: AsyncConnection, caller: Principal, user_id: str) -> User:
    """The user, if the caller may act for them; else NotFound, as if they did not exist."""
    try:
        user = await accounts.get_user(conn, user_id)
    except NotFound:
        user = None
    if user is None or not caller.reaches(user.id, user.org_id):
        raise NotFound(N_("no user with id {user_id!r}"), user_id=user_id)
    return user


@router.get("/{user_id}")
async def get_user(caller: Caller, db: Engine, user_id: str) -> UserOut:
    async with db.connect() as conn:
        return UserOut.of(await reachable_user(conn, caller, user_id))


@router.get("/{user_id}/keys")
async def user_keys(caller: Caller, db: Engine, user_id: str) -> list[KeyOut]:
    async with db.connect() as conn:
        user = await reachable_user(conn, caller, user_id)
        return [KeyOut.of(key) for key in await accounts.list_keys(conn, user.email)]


@router.post("/{user_id}/keys", status_code=201)
async def create_user_key(
    caller: Caller, actor: Acting, db: Engine, user_id: str, body: KeyCreate
) -> KeyCreated:
    async with db.begin() as conn:
        user = await reachable_user(conn, caller, user_id)
        return await create_key_for(conn, actor, user.email, body)


@router.patch("/{user_id}")
async def change_user(
    caller: Caller, actor: Acting, signed_in: Session, db: Engine, user_id: str, body: UserChange
) -> UserOut:
    """A user may rename themselves; their organization's admins may also change their
    role or disable them (not their own, not an operator's: only an operator may). Only
    an operator may change an email address here, at once: an org admin pointing a
    member's account at an address of their own would get what is meant for its owner."""
    async with db.begin() as conn:
        session_id = signed_in.id if signed_in is not None else None
        changed = await change_user_of(conn, caller, actor, session_id, user_id, body)
    return UserOut.of(changed)


async def change_user_of(
    conn: AsyncConnection,
    caller: Principal,
    actor: Actor,
    session_id: str | None,
    user_id: str,
    body: UserChange,
) -> User:
    """`PATCH /api/users/{id}` (the API and the console); `session_id` is the caller's
    session, if any, kept when they change their own email address."""
    user = await reachable_user(conn, caller, user_id)
    administers = caller.administers(user.org_id)
    if (body.role is not None or body.disabled is not None) and not administers:
        raise Forbidden(N_("Only the organization's admins may change roles or disable users."))
    if not caller.is_operator and (user.role == Role.OPERATOR or body.role is Role.OPERATOR):
        raise Forbidden(N_("Only an operator may change an operator, or make one."))
    if body.email is not None and not caller.is_operator:
        raise Forbidden(
            N_(
                "Only an operator may change a user's email address; people change their "
                "own with POST /api/me/email, confirmed from the new address."
            )
        )
    if user.id == caller.user_id and (body.disabled or body.role not in (None, user.role)):
        raise InvalidInput(N_("You may not disable yourself or change your own role."))
    own_session = session_id if user.id == caller.user_id else None
    return await update_user(
        conn,
        user_id,
        name=body.name,
        role=body.role,
        disabled=body.disabled,
        email=body.email,
        keep_session=own_session,
        actor=actor,
    )


@router.post(
    "/{user_id}/invite",
    status_code=202,
    responses={
        403: {"description": "Not an admin of their organization, or no email is sent here."},
        503: {"description": "The mail server did not take it; the new invitation stays."},
    },
)
async def invite_user(
    caller: Caller, actor: Acting, db: Engine, mailer: Mailer, settings: Config, user_id: str
) -> Invitation:
    """Send the invitation again: a member who has no password yet (`password_set`
    false: invited, or using keys only) gets a new link to choose one, good once for 7
    days, which replaces their previous invitation. For their organization's admins and
    operators; audited as `user.invited`. A member with a password signs in, or resets it
    (400); a disabled one is enabled first (400)."""
    mailed = await invite_again(db, mailer, settings, caller, actor, user_id)
    return Invitation(
        user_id=mailed.user_id, email=mailed.recipient.address, expires_at=mailed.expires_at
    )


async def invite_again(
    engine: AsyncEngine,
    mailer: Mail | None,
    settings: Settings,
    caller: Principal,
    actor: Actor,
    user_id: str,
) -> InvitationMailed:
    """`POST /api/users/{id}/invite` (the API and the console): a new invitation for a
    member without a password, replacing their unused one, mailed before it returns."""
    async with engine.begin() as conn:
        user = await reachable_user(conn, caller, user_id)
        may_invite(caller, user)
        mail = invitation_mail(mailer)
        mailed = await invite(conn, user.id, caller.user_id, actor)
    if not await send_invitation(mail, settings, mailed):
        raise InvitationNotSent(
            N_("The invitation could not be sent to {email}; try again later."),
            email=user.email,
        )
    return mailed
