"""Users through the management API: themselves, their organization's admins, or an
operator may read a user and manage their keys."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.models import User
from aisonar.accounts.principal import Principal
from aisonar.admin.deps import Acting, Caller, Engine
from aisonar.admin.keys import create_key_for
from aisonar.admin.schemas import KeyCreate, KeyCreated, KeyOut, UserOut
from aisonar.errors import NotFound

router = APIRouter(prefix="/api/users", tags=["users"])


async def reachable_user(conn: AsyncConnection, caller: Principal, user_id: str) -> User:
    """The user, if the caller may act for them; else NotFound, as if they did not exist."""
    try:
        user = await accounts.get_user(conn, user_id)
    except NotFound:
        user = None
    if user is None or not caller.reaches(user.id, user.org_id):
        raise NotFound(f"no user with id {user_id!r}")
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
