"""The batched usage writer: requests hand events over without waiting; a background
task inserts them in batches and flushes everything pending on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.store.tables import usage_events
from aisonar.usage.models import UsageEvent

log = logging.getLogger(__name__)

_RETRY_DELAY_S = 1.0


class UsageWriter:
    def __init__(
        self, engine: AsyncEngine, *, batch_size: int, flush_interval_s: float, max_pending: int
    ) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._max_pending = max_pending
        self._pending: list[UsageEvent] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self.dropped = 0
        self.written = 0

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    def submit(self, event: UsageEvent) -> None:
        if len(self._pending) >= self._max_pending:
            # The database has fallen far behind; keep memory bounded and say so loudly.
            self.dropped += 1
            log.error("usage writer queue full (%d); event %s dropped", self._max_pending, event.id)
            return
        self._pending.append(event)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    async def run(self) -> None:
        """Write batches until stopped, then flush what is left."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval_s)
            self._wake.clear()
            await self._flush(retry=True)
        await self._flush(retry=False)

    async def stop(self, task: asyncio.Task[None]) -> None:
        self._stopping = True
        self._wake.set()
        await task

    async def _flush(self, *, retry: bool) -> None:
        while self._pending:
            batch = self._pending[: self._batch_size]
            try:
                await self._insert(batch)
            except (SQLAlchemyError, OSError):
                log.exception("usage writer could not write %d events; will retry", len(batch))
                if not retry:
                    raise
                await asyncio.sleep(_RETRY_DELAY_S)
                return
            del self._pending[: len(batch)]
            self.written += len(batch)

    async def _insert(self, batch: list[UsageEvent]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(usage_events), [event.as_row() for event in batch])
