"""API keys through the management API: a user's own, or any of their organization's
for its admin (and any at all for an operator)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.principal import Principal
from aisonar.accounts.rotation import rotate_key, set_allowed_ips
from aisonar.admin.schemas import KeyAllowedIps, KeyCreate, KeyCreated, KeyOut, KeyRotate
from aisonar.audit.models import Actor
from aisonar.errors import NotFound
from aisonar.i18n import N_
from aisonar.web.deps import Acting, Caller, Engine, RecentlyAuthenticated

router = APIRouter(prefix="/api/keys", tags=["keys"])


async def create_key_for(
    conn: AsyncConnection, actor: Actor, email: str, body: KeyCreate
) -> KeyCreated:
    key, secret = await accounts.create_key(
        conn,
        email,
        name=body.name,
        models=body.models,
        expires_at=body.expires_at,
        allowed_ips=body.allowed_ips,
        scope=body.scope,
        actor=actor,
    )
    return KeyCreated(**KeyOut.of(key).model_dump(), secret=secret)


async def reachable_key(
    conn: AsyncConnection, caller: Principal, key_id: str, *, own_only: bool = False
) -> KeyOut:
    """The key, if the caller may manage it; else NotFound, as if it did not exist."""
    try:
        key = await accounts.get_key(conn, key_id)
    except NotFound:
        key = None
    if key is None or not (
        key.user_id == caller.user_id if own_only else caller.reaches(key.user_id, key.org_id)
    ):
        raise NotFound(N_("no key with id {key_id!r}"), key_id=key_id)
    return KeyOut.of(key)


async def revoke_key_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, key_id: str, *, own_only: bool = False
) -> KeyOut:
    await reachable_key(conn, caller, key_id, own_only=own_only)
    return KeyOut.of(await accounts.revoke_key(conn, key_id, actor=actor))


@router.get("/{key_id}")
async def get_key(caller: Caller, db: Engine, key_id: str) -> KeyOut:
    async with db.connect() as conn:
        return await reachable_key(conn, caller, key_id)


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
    async with db.begin() as conn:
        return await rotate_key_of(conn, caller, actor, key_id, body)


async def rotate_key_of(
    conn: AsyncConnection,
    caller: Principal,
    actor: Actor,
    key_id: str,
    body: KeyRotate,
    *,
    own_only: bool = False,
) -> KeyCreated:
    """`POST /api/keys/{id}/rotate` (the API and the console, which asks for the password
    first as `RecentlyAuthenticated` does)."""
    await reachable_key(conn, caller, key_id, own_only=own_only)
    key, secret = await rotate_key(conn, key_id, grace=timedelta(seconds=body.grace_s), actor=actor)
    return KeyCreated(**KeyOut.of(key).model_dump(), secret=secret)


@router.put("/{key_id}/allowed-ips")
async def allow_ips(
    caller: Caller, actor: Acting, db: Engine, key_id: str, body: KeyAllowedIps
) -> KeyOut:
    """Restrict the key to these addresses or CIDR blocks (null: anywhere)."""
    async with db.begin() as conn:
        return await allow_ips_of(conn, caller, actor, key_id, body)


async def allow_ips_of(
    conn: AsyncConnection,
    caller: Principal,
    actor: Actor,
    key_id: str,
    body: KeyAllowedIps,
    *,
    own_only: bool = False,
) -> KeyOut:
    """`PUT /api/keys/{id}/allowed-ips` (the API and the console)."""
    await reachable_key(conn, caller, key_id, own_only=own_only)
    return KeyOut.of(await set_allowed_ips(conn, key_id, body.allowed_ips, actor=actor))
