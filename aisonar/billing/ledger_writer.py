"""The ledger writer: settled usage charges become ledger entries in batches, off the
request path. What a crash can lose is what is pending here: at most one flush interval
of settled charges (0.25 s by default), which the organization is then not charged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.billing.ledger import LedgerKind, NewEntry, append
from aisonar.clock import utcnow

log = logging.getLogger(__name__)

_RETRY_DELAY_S = 1.0
USAGE_ACTOR = "gateway"


@dataclass(frozen=True, slots=True)
class Charge:
    org_id: str
    cost: int
    request_id: str
    model: str
    at: datetime


class LedgerWriter:
    def __init__(self, engine: AsyncEngine, *, flush_interval_s: float) -> None:
        self._engine = engine
        self._flush_interval_s = flush_interval_s
        self._pending: list[Charge] = []
        self._stopping = False
        self._wake = asyncio.Event()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, org_id: str, cost: int, request_id: str, model: str) -> None:
        if cost > 0:
            self._pending.append(Charge(org_id, cost, request_id, model, utcnow()))

    async def run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval_s)
            self._wake.clear()
            await self.flush(retry=True)
        await self.flush(retry=False)

    async def stop(self, task: asyncio.Task[None]) -> None:
        self._stopping = True
        self._wake.set()
        await task

    async def flush(self, *, retry: bool = False) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        by_org: dict[str, list[NewEntry]] = defaultdict(list)
        for charge in batch:
            by_org[charge.org_id].append(
                NewEntry(
                    kind=LedgerKind.USAGE,
                    amount=-charge.cost,
                    actor=USAGE_ACTOR,
                    reason=f"usage of {charge.model}",
                    request_id=charge.request_id,
                    created_at=charge.at,
                )
            )
        try:
            async with self._engine.begin() as conn:
                for org_id in sorted(by_org):  # one lock order for every writer: no deadlocks
                    await append(conn, org_id, by_org[org_id])
        except (SQLAlchemyError, OSError):
            self._pending[:0] = batch
            log.exception("ledger writer could not write %d charges; will retry", len(batch))
            if not retry:
                raise
            await asyncio.sleep(_RETRY_DELAY_S)
