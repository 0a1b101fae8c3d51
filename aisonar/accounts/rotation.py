"""Key rotation and address allowlists: a rotated key gets a new secret at once, and its
previous secret keeps working for a grace period so deployments can switch over; the
allowlist limits where a key may be used from. Running servers learn within a second."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.directory import get_key
from aisonar.accounts.keys import generate_key_secret
from aisonar.accounts.models import ApiKey
from aisonar.accounts.networks import canonical_networks
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import utcnow
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.notify.notices import KEY_ROTATED, record_notice
from aisonar.store.changes import KEY_ENTITY, record_change
from aisonar.store.tables import api_keys

MAX_GRACE = timedelta(days=30)


async def rotate_key(
    conn: AsyncConnection, key_id: str, *, grace: timedelta, actor: Actor = SYSTEM
) -> tuple[ApiKey, str]:
    """A new secret for the key (returned once); the current one stays valid for
    `grace` (zero: not at all). A secret rotated out before is forgotten."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise InvalidInput(N_("the grace period is 0 to 30 days"), param="grace")
    key = await get_key(conn, key_id)
    if key.revoked_at is not None:
        raise InvalidInput(N_("key {key_id!r} is revoked"), param="key_id", key_id=key_id)
    current_hash = (
        await conn.execute(select(api_keys.c.key_hash).where(api_keys.c.id == key_id))
    ).scalar_one()
    secret = generate_key_secret()
    valid_until = utcnow() + grace
    await conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(
            key_hash=secret.key_hash,
            display_prefix=secret.display_prefix,
            previous_key_hash=current_hash if grace else None,
            previous_valid_until=valid_until if grace else None,
        )
    )
    await record_change(conn, KEY_ENTITY, key_id)
    rotated = await get_key(conn, key_id)
    await audit.record(
        conn,
        actor,
        "key.rotate",
        object_kind="key",
        object_id=key_id,
        org_id=key.org_id,
        changes=audit.changed(
            {"display_prefix": key.display_prefix, "previous_valid_until": None},
            {
                "display_prefix": rotated.display_prefix,
                "previous_valid_until": rotated.previous_valid_until,
            },
        ),
    )
    until = rotated.previous_valid_until
    await record_notice(
        conn,
        key.org_id,
        KEY_ROTATED,
        {
            "key_id": key_id,
            "name": key.name,
            "display_prefix": rotated.display_prefix,
            "previous_valid_until": None if until is None else until.isoformat(),
        },
        user_id=key.user_id,
    )
    return rotated, secret.secret


async def set_allowed_ips(
    conn: AsyncConnection, key_id: str, allowed: list[str] | None, *, actor: Actor = SYSTEM
) -> ApiKey:
    """Restrict the key to these addresses (CIDR blocks), or lift it with None."""
    networks = None if allowed is None else canonical_networks(allowed)
    key = await get_key(conn, key_id)
    await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(allowed_ips=networks))
    await record_change(conn, KEY_ENTITY, key_id)
    before = None if key.allowed_ips is None else list(key.allowed_ips)
    await audit.record(
        conn,
        actor,
        "key.update",
        object_kind="key",
        object_id=key_id,
        org_id=key.org_id,
        changes=audit.changed({"allowed_ips": before}, {"allowed_ips": networks}),
    )
    return await get_key(conn, key_id)
