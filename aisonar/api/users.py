"""Users through the management API: themselves, their organization's admins, or an
operator may read a user and manage their keys (`accounts/access.py` and
`accounts/members.py` decide who may)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from aisonar.accounts import services as accounts
from aisonar.accounts.models import ApiKey
from aisonar.accounts.services import MemberChange, change_member, invite_again, reachable_user
from aisonar.api import paging
from aisonar.api.invitations import Invitation
from aisonar.api.keys import create_key_for
from aisonar.api.paging import After, Limit
from aisonar.api.schemas import KeyCreate, KeyCreated, KeyOut, UserChange, UserOut
from aisonar.web.deps import Acting, Caller, Config, Engine, Mailer, Session

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("/{user_id}")
async def get_user(caller: Caller, db: Engine, user_id: str) -> UserOut:
    async with db.connect() as conn:
        return UserOut.of(await reachable_user(conn, caller, user_id))


@router.get("/{user_id}/keys")
async def user_keys(
    caller: Caller,
    db: Engine,
    response: Response,
    user_id: str,
    after: After = None,
    limit: Limit = None,
) -> list[KeyOut]:
    """Their keys, revoked ones too, oldest first."""
    async with db.connect() as conn:
        user = await reachable_user(conn, caller, user_id)
        found = await accounts.keys_page(conn, paging.page(after, limit), user_id=user.id)
    path = f"/api/users/{user.id}/keys"
    return [KeyOut.of(key) for key in paging.cut(found, limit, response, path, _id)]


def _id(key: ApiKey) -> str:
    return key.id


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
    change = MemberChange(**body.model_dump())
    async with db.begin() as conn:
        session_id = signed_in.id if signed_in is not None else None
        changed = await change_member(conn, caller, actor, session_id, user_id, change)
    return UserOut.of(changed)


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
