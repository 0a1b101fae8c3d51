"""The in-process limit store (one server process): plain dicts, decided without an
await, so each decision is atomic on the event loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from aisonar.errors import require_positive
from aisonar.limits.store import CheckState, Decision, RateCheck, SlotCheck, gcra, rate_state

# Stale buckets and empty slot sets are swept every this many decisions.
_SWEEP_EVERY = 10_000
_NONE_HELD: dict[str, float] = {}


class MemoryLimitStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tats: dict[str, float] = {}
        self._slots: dict[str, dict[str, float]] = {}
        self._decisions = 0

    async def admit(
        self, request_id: str, rates: Sequence[RateCheck], slots: Sequence[SlotCheck]
    ) -> Decision:
        for check in rates:
            if check.cost < 1:
                require_positive(check.cost, f"The cost of {check.name}")
        now = self.clock()
        self._decisions += 1
        if self._decisions % _SWEEP_EVERY == 0:
            self._sweep(now)
        refused: str | None = None
        retry_after = 0.0
        new_tats: list[float] = []
        for check in rates:
            tat = self._tats.get(check.key, 0.0)
            admitted, new_tat, wait = gcra(tat, now, check.limit, check.window_s, check.cost)
            new_tats.append(new_tat if admitted else max(tat, now))
            if not admitted and refused is None:
                refused, retry_after = check.name, wait
        counts: list[int] = []
        for slot in slots:
            held = self._slots.get(slot.key, _NONE_HELD)
            if len(held) >= slot.limit:
                # Only a full set can refuse: its expired slots (a request that never
                # finished) are dropped then, not scanned for on every request.
                held = self._live_slots(slot.key, now)
            counts.append(len(held))
            if len(held) >= slot.limit and refused is None:
                refused, retry_after = slot.name, 1.0
        allowed = refused is None
        if allowed:
            for check, new_tat in zip(rates, new_tats, strict=True):
                self._tats[check.key] = new_tat
            for slot in slots:
                self._slots.setdefault(slot.key, {})[request_id] = now + slot.ttl_s
        states = [rate_state(c, t, now) for c, t in zip(rates, new_tats, strict=True)]
        states += [
            CheckState(s.name, s.limit, max(s.limit - n - allowed, 0), 0.0)
            for s, n in zip(slots, counts, strict=True)
        ]
        return Decision(allowed, refused, retry_after, tuple(states))

    async def finish(
        self,
        request_id: str,
        slots: Sequence[SlotCheck],
        tokens: Sequence[RateCheck],
        delta: int,
    ) -> None:
        for slot in slots:
            held = self._slots.get(slot.key)
            if held is not None:
                held.pop(request_id, None)
        if not delta:
            return
        now = self.clock()
        for check in tokens:
            base = max(self._tats.get(check.key, 0.0), now)
            self._tats[check.key] = max(base + delta * check.window_s / check.limit, now)

    async def close(self) -> None:
        return None

    def _live_slots(self, key: str, now: float) -> dict[str, float]:
        held = self._slots.get(key)
        if held is None:
            return {}
        for request_id in [r for r, expiry in held.items() if expiry <= now]:
            del held[request_id]
        return held

    def _sweep(self, now: float) -> None:
        for key in [k for k, tat in self._tats.items() if tat <= now]:
            del self._tats[key]
        for key in [k for k in self._slots if not self._live_slots(k, now)]:
            del self._slots[key]
