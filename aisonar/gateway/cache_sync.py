"""Keep this process's caches true to the database: poll the change log and drop or
reload what changed elsewhere (the command line, another server) within a fraction of a
second: API keys, channels, prices, and credits to live balances."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.billing.ledger import LEDGER_ENTITY, entry_by_id
from aisonar.billing.prices import PRICE_ENTITY, PriceBook, load_operator_prices
from aisonar.billing.store import BalanceStore
from aisonar.channels.models import ChannelWithSecret
from aisonar.channels.services import CHANNEL_ENTITY, load_enabled_channels
from aisonar.crypto import SecretBox
from aisonar.gateway.auth import KeyCache
from aisonar.store.changes import KEY_ENTITY, changes_since, latest_change_id, prune_changes

log = logging.getLogger(__name__)

_PRUNE_EVERY_POLLS = 10_000


async def load_channels(engine: AsyncEngine, box: SecretBox) -> list[ChannelWithSecret]:
    async with engine.connect() as conn:
        return await load_enabled_channels(conn, box)


async def current_change_id(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await latest_change_id(conn)


class CacheRefresher:
    def __init__(
        self,
        engine: AsyncEngine,
        box: SecretBox,
        keys: KeyCache,
        install_channels: Callable[[list[ChannelWithSecret]], None],
        prices: PriceBook,
        balances: BalanceStore,
    ) -> None:
        self._engine = engine
        self._box = box
        self._keys = keys
        self._install_channels = install_channels
        self._prices = prices
        self._balances = balances

    async def apply(self, changes: list[tuple[int, str, str]]) -> None:
        entities = {entity for _, entity, _ in changes}
        if KEY_ENTITY in entities:
            self._keys.clear()
        if CHANNEL_ENTITY in entities:
            self._install_channels(await load_channels(self._engine, self._box))
        if PRICE_ENTITY in entities:
            async with self._engine.connect() as conn:
                self._prices.replace_operator_prices(await load_operator_prices(conn))
        for _, entity, entity_id in changes:
            if entity == LEDGER_ENTITY:
                async with self._engine.connect() as conn:
                    entry = await entry_by_id(conn, int(entity_id))
                if entry is not None:
                    await self._balances.credit(entry.org_id, entry.id, entry.amount)


async def follow_changes(
    engine: AsyncEngine, refresher: CacheRefresher, *, since: int, interval_s: float
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
            if changes:
                await refresher.apply(changes)
                last_id = changes[-1][0]
        except (SQLAlchemyError, OSError):
            log.warning("change log poll failed; caches may be stale until the next poll")
