"""Changes to API keys for every front end (the API, the console): creating one for a
user, and revoking, rotating or restricting by address a key the caller reaches
(`accounts/access.py`; with `own_only`, only their own). The values are checked here,
with the rules the API's bodies follow too."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import directory as accounts
from aisonar.accounts.access import reachable_key
from aisonar.accounts.models import ApiKey, KeyScope
from aisonar.accounts.principal import Principal
from aisonar.accounts.rotation import rotate_key, set_allowed_ips
from aisonar.audit.models import Actor

# How long a rotated-out secret keeps working beside the new one: 0 to 30 days.
GraceSeconds = Annotated[int, Field(ge=0, le=30 * 86400)]


@dataclass(frozen=True)
class NewKey:
    name: Annotated[str, Field(max_length=200)] = ""
    # Models (names) the key may use; None is every model its organization allows.
    models: list[str] | None = None
    expires_at: datetime | None = None
    # Addresses or CIDR blocks it may be used from; None is anywhere.
    allowed_ips: list[str] | None = None
    # INGEST: a key that can only report usage.
    scope: KeyScope = KeyScope.ALL


@dataclass(frozen=True)
class Rotation:
    grace_s: GraceSeconds = 3600


async def create_key_for(
    conn: AsyncConnection, actor: Actor, email: str, new: NewKey
) -> tuple[ApiKey, str]:
    """A new key of the user with this address, and its secret (returned once)."""
    return await accounts.create_key(
        conn,
        email,
        name=new.name,
        models=new.models,
        expires_at=new.expires_at,
        allowed_ips=new.allowed_ips,
        scope=new.scope,
        actor=actor,
    )


async def revoke_key_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, key_id: str, *, own_only: bool = False
) -> ApiKey:
    """Revoke a key the caller reaches; every running server refuses it within a second."""
    await reachable_key(conn, caller, key_id, own_only=own_only)
    return await accounts.revoke_key(conn, key_id, actor=actor)


async def rotate_key_of(
    conn: AsyncConnection,
    caller: Principal,
    actor: Actor,
    key_id: str,
    rotation: Rotation,
    *,
    own_only: bool = False,
) -> tuple[ApiKey, str]:
    """A new secret (returned once) for a key the caller reaches; the current one keeps
    working for the rotation's grace. The front end has the caller prove their password first."""
    await reachable_key(conn, caller, key_id, own_only=own_only)
    grace = timedelta(seconds=rotation.grace_s)
    return await rotate_key(conn, key_id, grace=grace, actor=actor)


async def allow_ips_of(
    conn: AsyncConnection,
    caller: Principal,
    actor: Actor,
    key_id: str,
    allowed_ips: list[str] | None,
    *,
    own_only: bool = False,
) -> ApiKey:
    """Restrict a key the caller reaches to these addresses or CIDR blocks (None: anywhere)."""
    await reachable_key(conn, caller, key_id, own_only=own_only)
    return await set_allowed_ips(conn, key_id, allowed_ips, actor=actor)
