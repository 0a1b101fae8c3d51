"""The batched usage writer: requests hand events over without waiting; a background
task inserts them in batches, adds them to their minute rollups in the same transaction
(`compaction` makes hours and days of those; an event whose minute compaction has already
covered is added to its hour and day here) and to their hours and days by attribution
(`attribution_rollups`), and flushes everything pending on shutdown.

Events an application reports (ingestion) may come twice, when it retries: those already
stored, or repeated within a batch, are skipped before the insert, so that rollups count
each once. Two servers inserting the same new event at once make one transaction fail on
the primary key; its retry then finds the event stored.

Rows go to the driver's `executemany` as plain tuples: at thousands of events per
second, SQLAlchemy's per-value processing on the event loop would cost more than the
requests themselves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.clock import utcnow
from aisonar.store.engine import is_sqlite, placeholders
from aisonar.store.tables import usage_events
from aisonar.usage import attribution_rollups, rollups
from aisonar.usage.compaction import compacted_through, lock_watermark_shared
from aisonar.usage.models import USAGE_COLUMNS, UsageEvent
from aisonar.usage.storable import storable

log = logging.getLogger(__name__)

_RETRY_DELAY_S = 1.0
_RETRY_SPAN = timedelta(days=1)
# When behind, a transaction takes up to this many batches' worth: fewer, larger
# transactions catch up faster (a combination's minute is upserted once per transaction,
# however many of its events it holds).
_CATCH_UP_BATCHES = 8
# Events prepared between two turns of the event loop: about a millisecond's work.
_PREPARE_SLICE = 200
_event_values = attrgetter(*USAGE_COLUMNS)
_TIME_COLUMNS = tuple(index for index, name in enumerate(USAGE_COLUMNS) if name.endswith("_at"))


def _sqlite_time(moment: datetime) -> str:
    # SQLAlchemy's storage format for DateTime on SQLite (naive UTC, microseconds).
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def _unchanged(moment: datetime) -> datetime:
    return moment


def _sqlite_row(event: UsageEvent) -> tuple[Any, ...]:
    values = list(_event_values(event))
    for index in _TIME_COLUMNS:
        moment: datetime | None = values[index]
        if moment is not None:
            values[index] = _sqlite_time(moment)
    return tuple(values)


@dataclass(frozen=True, slots=True)
class _Prepared:
    events: list[UsageEvent]
    rows: list[tuple[Any, ...]]
    sums: rollups.Sums


def _insert_statement(sqlite: bool) -> str:
    columns = ", ".join(USAGE_COLUMNS)
    values = placeholders(len(USAGE_COLUMNS), sqlite)
    return f"INSERT INTO usage_events ({columns}) VALUES ({values})"


class UsageWriter:
    def __init__(
        self, engine: AsyncEngine, *, batch_size: int, flush_interval_s: float, max_pending: int
    ) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._max_pending = max_pending
        sqlite = self._sqlite = is_sqlite(engine.url.drivername)
        self._statement = _insert_statement(sqlite)
        self._rollup_statement = rollups.upsert_statement(sqlite)
        self._attribution_statement = attribution_rollups.upsert_statement(sqlite)
        self._dimension_ids = rollups.DimensionIds(engine.dialect.name)
        self._to_row: Callable[[UsageEvent], tuple[Any, ...]] = (
            _sqlite_row if sqlite else _event_values
        )
        self._pending: list[UsageEvent] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self.dropped = 0
        self.written = 0
        # When a flush last ended with nothing left pending (the operators' status).
        self.last_flush_at: datetime | None = None

    @property
    def queue_depth(self) -> int:
        return len(self._pending)

    def has_room_for(self, count: int) -> bool:
        return len(self._pending) + count <= self._max_pending

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
        """Write everything pending, a transaction at a time."""
        limit = self._batch_size * _CATCH_UP_BATCHES
        while self._pending:
            current = await self._prepared(self._pending[:limit])
            try:
                await self._insert(current)
            except (SQLAlchemyError, OSError):
                count = len(current.events)
                log.exception("usage writer could not write %d events; will retry", count)
                if not retry:
                    raise
                await asyncio.sleep(_RETRY_DELAY_S)
                return
            del self._pending[: len(current.events)]
        self.last_flush_at = utcnow()

    async def _prepared(self, events: list[UsageEvent]) -> _Prepared:
        """`_prepare` on the event loop, a slice at a time, letting requests run between
        slices. (In a thread, this pure-Python work would take the GIL from the event
        loop for a whole switch interval, 5 ms, at a time: the requests' tail latency.)"""
        slices = []
        for start in range(0, len(events), _PREPARE_SLICE):
            if start:
                await asyncio.sleep(0)
            slices.append(self._prepare(events[start : start + _PREPARE_SLICE]))
        if len(slices) == 1:
            return slices[0]
        return _Prepared(
            [event for part in slices for event in part.events],
            [row for part in slices for row in part.rows],
            rollups.merged([part.sums for part in slices]),
        )

    def _prepare(self, events: list[UsageEvent]) -> _Prepared:
        """The driver's rows and the minute sums of a batch."""
        events = [storable(event) for event in events]
        return _Prepared(
            events, [self._to_row(event) for event in events], rollups.aggregate(events)
        )

    async def _insert(self, prepared: _Prepared) -> None:
        async with self._engine.begin() as conn:
            # First, so that a run moving the watermark waits for this whole transaction.
            await lock_watermark_shared(conn)
            if any(event.external_id is not None for event in prepared.events):
                unseen = await _unseen(conn, prepared.events)
                if not unseen:
                    return
                if len(unseen) < len(prepared.events):
                    prepared = self._prepare(unseen)
            batch, rows = prepared.events, prepared.rows
            await conn.exec_driver_sql(self._statement, rows)
            # After the insert: on SQLite, once the write lock is held, it is the latest.
            through = await compacted_through(conn)
            sums = rollups.with_compacted(
                prepared.sums, 0 if through is None else int(through.timestamp())
            )
            combinations = (key[2] for key in sums if len(key[2]) > 1)
            ids = await self._dimension_ids.resolve(conn, combinations)
            time_value = _sqlite_time if self._sqlite else _unchanged
            await conn.exec_driver_sql(
                self._rollup_statement, rollups.rollup_rows(sums, ids, time_value)
            )
            await attribution_rollups.add_events(
                conn, batch, self._attribution_statement, time_value
            )
        self._dimension_ids.remember(ids)
        self.written += len(batch)


async def _unseen(conn: AsyncConnection, batch: list[UsageEvent]) -> list[UsageEvent]:
    """The batch without reported events already stored or met earlier in it. A retry
    is looked for within a day of the batch's events, which bounds the lookup to a few
    days' partitions on PostgreSQL (an event sent without a start time is given the
    time it arrived, so its retry's start differs a little)."""
    reported = [event for event in batch if event.external_id is not None]
    starts = [event.started_at for event in reported]
    stored = await conn.execute(
        select(usage_events.c.id).where(
            usage_events.c.id.in_({event.id for event in reported}),
            usage_events.c.started_at >= min(starts) - _RETRY_SPAN,
            usage_events.c.started_at <= max(starts) + _RETRY_SPAN,
        )
    )
    seen = set(stored.scalars())
    unseen = []
    for event in batch:
        if event.external_id is not None:
            if event.id in seen:
                continue
            seen.add(event.id)
        unseen.append(event)
    return unseen
