"""Per-process circuit breaker over upstream channels.

Only channels that have failed have an entry, so the checks made for every request are one
dict lookup that allocates nothing while everything is healthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum


class ChannelState(StrEnum):
    """Where a channel stands in the breaker."""

    CLOSED = "closed"  # in rotation
    OPEN = "open"  # cooling down; no traffic
    HALF_OPEN = "half_open"  # the probe succeeded; traffic flows, but one failure re-opens it


StateListener = Callable[[str, ChannelState, ChannelState, str], None]
"""(channel_id, old_state, new_state, reason) -> None."""

# 2.0 ** 1024 raises OverflowError; by then any sane cap was reached long ago.
_MAX_EXPONENT = 1023


@dataclass(slots=True)
class _Entry:
    state: ChannelState = ChannelState.CLOSED
    failures: int = 0  # consecutive, while CLOSED
    openings: int = 0  # since the channel was last fully healthy
    until: float = 0.0  # end of the current cooldown, by the clock, while OPEN


class ChannelHealth:
    """Tracks which channels may take traffic.

    `on_change` is called after every state change, and also (OPEN -> OPEN) when a failed
    probe restarts a cooldown. State is updated before it is called.
    """

    clock: Callable[[], float]
    on_change: StateListener | None

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        base_cooldown_s: float = 5.0,
        max_cooldown_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: StateListener | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if not 0 < base_cooldown_s <= max_cooldown_s:
            raise ValueError("cooldowns must satisfy 0 < base_cooldown_s <= max_cooldown_s")
        self.clock = clock
        self._threshold = failure_threshold
        self._base_cooldown_s = base_cooldown_s
        self._max_cooldown_s = max_cooldown_s
        self.on_change = on_change
        self._entries: dict[str, _Entry] = {}

    def is_available(self, channel_id: str) -> bool:
        """Whether the channel may take a request now (CLOSED or HALF_OPEN)."""
        entry = self._entries.get(channel_id)
        return entry is None or entry.state is not ChannelState.OPEN

    def state(self, channel_id: str) -> ChannelState:
        entry = self._entries.get(channel_id)
        return ChannelState.CLOSED if entry is None else entry.state

    def consecutive_failures(self, channel_id: str) -> int:
        """Failures in a row while in rotation (0 once it is cooling down or on trial)."""
        entry = self._entries.get(channel_id)
        return 0 if entry is None else entry.failures

    def record_success(self, channel_id: str) -> None:
        """A request succeeded: forget past failures; a HALF_OPEN channel closes."""
        entry = self._entries.get(channel_id)
        # A success while OPEN came from a request that started before the channel opened;
        # only a probe may bring it back.
        if entry is None or entry.state is ChannelState.OPEN:
            return
        del self._entries[channel_id]
        if entry.state is ChannelState.HALF_OPEN:
            self._notify(channel_id, ChannelState.HALF_OPEN, ChannelState.CLOSED, "request ok")

    def record_failure(
        self, channel_id: str, reason: str, *, retry_after_s: float | None = None
    ) -> None:
        """A request failed; `retry_after_s` is the upstream's Retry-After, if it sent one."""
        entry = self._entries.get(channel_id)
        if entry is None:
            entry = self._entries[channel_id] = _Entry()
        elif entry.state is ChannelState.OPEN:
            # In flight when the channel opened; its cooldown already accounts for this.
            return
        if retry_after_s is not None:
            reason = f"Retry-After {retry_after_s:g}s: {reason}"
            self._open(channel_id, entry, reason, at_least_s=retry_after_s)
        elif entry.state is ChannelState.HALF_OPEN:
            self._open(channel_id, entry, f"failed while half-open: {reason}")
        else:
            entry.failures += 1
            if entry.failures >= self._threshold:
                plural = "" if entry.failures == 1 else "s"
                self._open(
                    channel_id, entry, f"{entry.failures} consecutive failure{plural}: {reason}"
                )

    def due_for_probe(self) -> list[str]:
        """OPEN channels whose cooldown has ended."""
        now = self.clock()
        return [
            channel_id
            for channel_id, entry in self._entries.items()
            if entry.state is ChannelState.OPEN and entry.until <= now
        ]

    def probe_succeeded(self, channel_id: str) -> None:
        """OPEN -> HALF_OPEN; ignored in any other state."""
        entry = self._entries.get(channel_id)
        if entry is None or entry.state is not ChannelState.OPEN:
            return
        entry.state = ChannelState.HALF_OPEN
        self._notify(channel_id, ChannelState.OPEN, ChannelState.HALF_OPEN, "probe ok")

    def probe_failed(self, channel_id: str, reason: str) -> None:
        """Stays OPEN; the next, longer cooldown starts now. Ignored unless OPEN."""
        entry = self._entries.get(channel_id)
        if entry is None or entry.state is not ChannelState.OPEN:
            return
        self._open(channel_id, entry, f"probe failed: {reason}")

    def seconds_until_available(self, channel_ids: Iterable[str]) -> float:
        """The smallest remaining cooldown among `channel_ids`, for a Retry-After header.

        0 if any of them is available, if none is given, or if a cooldown has ended and the
        channel only awaits its probe.
        """
        now = self.clock()
        shortest: float | None = None
        for channel_id in channel_ids:
            entry = self._entries.get(channel_id)
            if entry is None or entry.state is not ChannelState.OPEN:
                return 0.0
            remaining = max(0.0, entry.until - now)
            if shortest is None or remaining < shortest:
                shortest = remaining
        return 0.0 if shortest is None else shortest

    def forget_except(self, channel_ids: Collection[str]) -> None:
        """Drop the state of channels not in `channel_ids` (they no longer exist)."""
        gone = [channel_id for channel_id in self._entries if channel_id not in channel_ids]
        for channel_id in gone:
            entry = self._entries.pop(channel_id, None)
            if entry is not None and entry.state is not ChannelState.CLOSED:
                self._notify(channel_id, entry.state, ChannelState.CLOSED, "channel removed")

    def snapshot(self) -> dict[str, ChannelState]:
        """The channels that are not CLOSED."""
        return {
            channel_id: entry.state
            for channel_id, entry in self._entries.items()
            if entry.state is not ChannelState.CLOSED
        }

    def _step_s(self, openings: int) -> float:
        """The uncapped cooldown of the n-th opening."""
        return self._base_cooldown_s * 2.0 ** min(openings - 1, _MAX_EXPONENT)

    def _open(self, channel_id: str, entry: _Entry, reason: str, at_least_s: float = 0.0) -> None:
        entry.openings += 1
        # max(step, nan) is step, so a garbled Retry-After cannot poison the cooldown.
        cooldown = min(max(self._step_s(entry.openings), at_least_s), self._max_cooldown_s)
        entry.until = self.clock() + cooldown
        entry.failures = 0
        old = entry.state
        entry.state = ChannelState.OPEN
        self._notify(channel_id, old, ChannelState.OPEN, reason)

    def _notify(self, channel_id: str, old: ChannelState, new: ChannelState, reason: str) -> None:
        if self.on_change is not None:
            self.on_change(channel_id, old, new, reason)
