"""The in-process spend store (one server process): counters in a dict, each hold decided
without an await once its counters are loaded, so it is atomic on the event loop.
Holds need no expiry here: they die with the process that made them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aisonar.clock import utcnow
from aisonar.errors import require_not_negative, require_positive
from aisonar.limits.spend import SpendCheck, SpendDecision, SpendLoader

# Counters of periods that ended are swept every this many holds.
_SWEEP_EVERY = 10_000


class _Counter:
    __slots__ = ("ends", "held", "holds", "spent")

    def __init__(self, spent: int, ends: datetime) -> None:
        self.spent = spent
        self.held = 0
        self.holds: dict[str, int] = {}
        self.ends = ends


class MemorySpendStore:
    def __init__(self, load: SpendLoader) -> None:
        self._load = load
        self._counters: dict[str, _Counter] = {}
        self._holds = 0

    async def hold(self, hold_id: str, checks: Sequence[SpendCheck], amount: int) -> SpendDecision:
        require_positive(amount, "A spend hold")
        self._holds += 1
        if self._holds % _SWEEP_EVERY == 0:
            self._sweep()
        counters = [await self._counter(check) for check in checks]
        # No await from here on: the checks and the hold are one step.
        for check, counter in zip(checks, counters, strict=True):
            committed = counter.spent + counter.held
            if committed + amount > check.cap:
                return SpendDecision(False, check, committed)
        for counter in counters:
            counter.held += amount
            counter.holds[hold_id] = amount
        return SpendDecision(True)

    async def settle(self, hold_id: str, checks: Sequence[SpendCheck], cost: int) -> None:
        require_not_negative(cost, "A cost")
        for check in checks:
            counter = self._counters.get(check.key)
            if counter is None:
                continue
            counter.held -= counter.holds.pop(hold_id, 0)
            counter.spent += cost

    async def close(self) -> None:
        return None

    async def _counter(self, check: SpendCheck) -> _Counter:
        counter = self._counters.get(check.key)
        if counter is not None:
            return counter
        spent = await self._load(check.counted, check.period)
        # Another request may have loaded it meanwhile, and held on it: keep that one.
        return self._counters.setdefault(check.key, _Counter(spent, check.period.end))

    def _sweep(self) -> None:
        now = utcnow()
        for key in [k for k, c in self._counters.items() if c.ends <= now and not c.holds]:
            del self._counters[key]
