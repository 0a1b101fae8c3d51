"""Telling owners, once per key, that their API key expires soon."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.clock import as_utc, utcnow
from aisonar.notify.notices import KEY_EXPIRING, record_notice
from aisonar.store.claims import claim
from aisonar.store.tables import api_keys

log = logging.getLogger(__name__)


async def notice_expiring_keys(conn: AsyncConnection, now: datetime, within: timedelta) -> int:
    """Record a notice for each live key expiring within `within` that has had none;
    returns how many. Each key is claimed first, so servers never notice one twice."""
    expiring = await conn.execute(
        select(api_keys).where(
            api_keys.c.revoked_at.is_(None),
            api_keys.c.expiry_noticed_at.is_(None),
            api_keys.c.expires_at > now,
            api_keys.c.expires_at <= now + within,
        )
    )
    noticed = 0
    for key in list(expiring):
        if not await claim(conn, api_keys.c.expiry_noticed_at, key.id, now):
            continue
        await record_notice(
            conn,
            key.org_id,
            KEY_EXPIRING,
            {
                "key_id": key.id,
                "name": key.name,
                "display_prefix": key.display_prefix,
                "expires_at": as_utc(key.expires_at).isoformat(),
            },
            user_id=key.user_id,
        )
        noticed += 1
    return noticed


async def keep_noticing_expiring_keys(
    engine: AsyncEngine, *, within: timedelta, interval_s: float
) -> None:
    while True:
        try:
            async with engine.begin() as conn:
                await notice_expiring_keys(conn, utcnow(), within)
        except (SQLAlchemyError, OSError):
            log.exception("could not look for expiring keys; will retry")
        await asyncio.sleep(interval_s)
