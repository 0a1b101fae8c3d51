"""Who may reach which organization, user and API key, for every front end (the API, the
console): what the caller may not reach is NotFound, as if it did not exist; what they
may see but not change is Forbidden."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import directory as accounts
from aisonar.accounts.models import ApiKey, Organization, User
from aisonar.accounts.principal import Principal
from aisonar.errors import Forbidden, NotFound
from aisonar.i18n import N_


async def visible_org(conn: AsyncConnection, caller: Principal, org_id: str) -> Organization:
    """The organization, for an operator or one of its members."""
    if not (caller.is_operator or caller.org_id == org_id):
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    return await accounts.get_org(conn, org_id)


async def administered_org(conn: AsyncConnection, caller: Principal, org_id: str) -> Organization:
    """The organization, for its admins and operators."""
    if not caller.administers(org_id):
        # A member learns no more than that they may not; anyone else, nothing.
        if caller.org_id == org_id:
            raise Forbidden(N_("Only the organization's admins may do this."))
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    return await accounts.get_org(conn, org_id)


async def reachable_user(conn: AsyncConnection, caller: Principal, user_id: str) -> User:
    """The user, if the caller may act for them."""
    try:
        user = await accounts.get_user(conn, user_id)
    except NotFound:
        user = None
    if user is None or not caller.reaches(user.id, user.org_id):
        raise NotFound(N_("no user with id {user_id!r}"), user_id=user_id)
    return user


async def member_of(
    conn: AsyncConnection, caller: Principal, org_id: str, user_id: str
) -> tuple[Organization, User]:
    """An organization the caller administers and its member; a user of another
    organization is NotFound, as no user at all."""
    org = await administered_org(conn, caller, org_id)
    user = await reachable_user(conn, caller, user_id)
    if user.org_id != org.id:
        raise NotFound(N_("no user with id {user_id!r}"), user_id=user_id)
    return org, user


async def reachable_key(
    conn: AsyncConnection, caller: Principal, key_id: str, *, own_only: bool = False
) -> ApiKey:
    """The key, if the caller may manage it (with `own_only`, only if it is theirs)."""
    try:
        key = await accounts.get_key(conn, key_id)
    except NotFound:
        key = None
    if key is None or not (
        key.user_id == caller.user_id if own_only else caller.reaches(key.user_id, key.org_id)
    ):
        raise NotFound(N_("no key with id {key_id!r}"), key_id=key_id)
    return key
