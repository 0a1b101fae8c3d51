"""API keys through the management API: a user's own, or any of their organization's
for its admin (and any at all for an operator); `accounts/access.py` and
`accounts/key_changes.py` decide who may."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.models import ApiKey
from aisonar.accounts.services import NewKey, Principal, Rotation, reachable_key
from aisonar.api.schemas import KeyAllowedIps, KeyCreate, KeyCreated, KeyOut, KeyRotate
from aisonar.audit.models import Actor
from aisonar.web.deps import Acting, Caller, Engine, RecentlyAuthenticated

router = APIRouter(prefix="/api/keys", tags=["keys"])


def _created(key: ApiKey, secret: str) -> KeyCreated:
    return KeyCreated(**KeyOut.of(key).model_dump(), secret=secret)


async def create_key_for(
    conn: AsyncConnection, actor: Actor, email: str, body: KeyCreate
) -> KeyCreated:
    """A key of the user with this address, as `POST .../keys` answers it."""
    new = NewKey(**body.model_dump())
    return _created(*await accounts.create_key_for(conn, actor, email, new))


async def revoke_key_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, key_id: str, *, own_only: bool = False
) -> KeyOut:
    return KeyOut.of(await accounts.revoke_key_of(conn, caller, actor, key_id, own_only=own_only))


@router.get("/{key_id}")
async def get_key(caller: Caller, db: Engine, key_id: str) -> KeyOut:
    async with db.connect() as conn:
        return KeyOut.of(await reachable_key(conn, caller, key_id))


@router.delete("/{key_id}")
async def revoke_key(caller: Caller, actor: Acting, db: Engine, key_id: str) -> KeyOut:
    """Revoke the key; every running server refuses it within a second."""
    async with db.begin() as conn:
        return await revoke_key_of(conn, caller, actor, key_id)


@router.post("/{key_id}/rotate")
async def rotate(
    caller: RecentlyAuthenticated, actor: Acting, db: Engine, key_id: str, body: KeyRotate
) -> KeyCreated:
    """A new secret, shown once; the current one keeps working for `grace_s` seconds.
    A session must have proved its password recently (`POST /api/session/reauthenticate`)."""
    rotation = Rotation(grace_s=body.grace_s)
    async with db.begin() as conn:
        return _created(*await accounts.rotate_key_of(conn, caller, actor, key_id, rotation))


@router.put("/{key_id}/allowed-ips")
async def allow_ips(
    caller: Caller, actor: Acting, db: Engine, key_id: str, body: KeyAllowedIps
) -> KeyOut:
    """Restrict the key to these addresses or CIDR blocks (null: anywhere)."""
    async with db.begin() as conn:
        key = await accounts.allow_ips_of(conn, caller, actor, key_id, body.allowed_ips)
    return KeyOut.of(key)
