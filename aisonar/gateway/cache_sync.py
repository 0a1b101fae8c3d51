"""Keep this process's caches true to the database: poll the change log and drop or
reload what changed elsewhere (the command line, another server) within a fraction of a second."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.channels.services import CHANNEL_ENTITY, load_enabled_channels
from aisonar.crypto import SecretBox
from aisonar.gateway.auth import KeyCache
from aisonar.gateway.routing import ChannelTable
from aisonar.store.changes import changes_since, latest_change_id, prune_changes

log = logging.getLogger(__name__)

_PRUNE_EVERY_POLLS = 10_000


async def load_channel_table(engine: AsyncEngine, box: SecretBox) -> ChannelTable:
    async with engine.connect() as conn:
        return ChannelTable(await load_enabled_channels(conn, box))


async def current_change_id(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await latest_change_id(conn)


async def follow_changes(
    engine: AsyncEngine,
    box: SecretBox,
    keys: KeyCache,
    install_channels: Callable[[ChannelTable], None],
    *,
    since: int,
    interval_s: float,
) -> None:
    last_id = since
    polls = 0
    while True:
        await asyncio.sleep(interval_s)
        polls += 1
        try:
            async with engine.connect() as conn:
                changes = await changes_since(conn, last_id)
            if polls % _PRUNE_EVERY_POLLS == 0:
                async with engine.begin() as conn:
                    await prune_changes(conn)
        except (SQLAlchemyError, OSError):
            log.warning("change log poll failed; caches may be stale until the next poll")
            continue
        if not changes:
            continue
        last_id = changes[-1][0]
        entities = {entity for _, entity, _ in changes}
        if entities - {CHANNEL_ENTITY}:
            keys.clear()
        if CHANNEL_ENTITY in entities:
            install_channels(await load_channel_table(engine, box))
