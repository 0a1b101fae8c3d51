"""Per-process circuit breaker over upstream channels.

A channel leaves rotation when, within a sliding window, enough of its requests failed: at
least `min_requests` requests, of which `failure_percent` or more failed (resilience4j's
failure rate over a minimum number of calls). A failure the request itself may have
provoked (an upstream 5xx on a body it cannot digest, a timeout on a very long answer)
carries the API key that sent it, and the `min_keys - 1` keys with the most such failures
are left out of the count, requests and failures: a channel opens only when it would
without them, so one tenant's bad requests cannot take a shared channel away from the
others. A failure no request can cause (no connection, credentials refused, rate
limited) always counts, and a `Retry-After` opens the channel at once.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from aisonar.channels.models import ChannelState

StateListener = Callable[[str, ChannelState, ChannelState, str], None]
"""(channel_id, old_state, new_state, reason) -> None."""

# 2.0 ** 1024 raises OverflowError; by then any sane cap was reached long ago.
_MAX_EXPONENT = 1023
# The window is counted in this many slices, and slides by dropping the oldest whole.
_SLICES = 10


@dataclass(slots=True)
class _Slice:
    index: int  # the slice's start, in slices since the clock's zero
    requests: int = 0
    channel_faults: int = 0  # failures no request can cause
    # Failures a request may have provoked, by the key that sent it.
    suspects: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Entry:
    state: ChannelState = ChannelState.CLOSED
    failures: int = 0  # since the last success, while not OPEN
    openings: int = 0  # since the channel was last fully healthy
    until: float = 0.0  # end of the current cooldown, by the clock, while OPEN
    window: deque[_Slice] = field(default_factory=deque)  # oldest first


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
        window_s: float = 60.0,
        min_requests: int = 5,
        failure_percent: int = 50,
        min_keys: int = 2,
        base_cooldown_s: float = 5.0,
        max_cooldown_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: StateListener | None = None,
    ) -> None:
        if not window_s > 0:
            raise ValueError("window_s must be positive")
        if min_requests < 1 or min_keys < 1:
            raise ValueError("min_requests and min_keys must be at least 1")
        if not 0 < failure_percent <= 100:
            raise ValueError("failure_percent must be within 1..100")
        if not 0 < base_cooldown_s <= max_cooldown_s:
            raise ValueError("cooldowns must satisfy 0 < base_cooldown_s <= max_cooldown_s")
        self.clock = clock
        self._window_s = window_s
        self._slice_s = window_s / _SLICES
        self._min_requests = min_requests
        self._failure_percent = failure_percent
        self._min_keys = min_keys
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
        """Failures since its last success (0 once it is cooling down)."""
        entry = self._entries.get(channel_id)
        return 0 if entry is None else entry.failures

    def record_success(self, channel_id: str) -> None:
        """A request succeeded: it counts in the window; a HALF_OPEN channel closes."""
        entry = self._entries.get(channel_id)
        if entry is None:
            entry = self._entries[channel_id] = _Entry()
        elif entry.state is ChannelState.OPEN:
            # From a request that started before the channel opened; only a probe may
            # bring it back.
            return
        elif entry.state is ChannelState.HALF_OPEN:
            entry = self._entries[channel_id] = _Entry()
            self._notify(channel_id, ChannelState.HALF_OPEN, ChannelState.CLOSED, "request ok")
        entry.failures = 0
        self._slice(entry).requests += 1

    def record_failure(
        self,
        channel_id: str,
        reason: str,
        *,
        suspect: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        """A request failed. `suspect` is the API key that sent it when the request may
        have provoked the failure, None when only the channel can be at fault;
        `retry_after_s` is the upstream's Retry-After, if it sent one."""
        entry = self._entries.get(channel_id)
        if entry is None:
            entry = self._entries[channel_id] = _Entry()
        elif entry.state is ChannelState.OPEN:
            # In flight when the channel opened; its cooldown already accounts for this.
            return
        entry.failures += 1
        current = self._slice(entry)
        current.requests += 1
        if suspect is None:
            current.channel_faults += 1
        else:
            current.suspects[suspect] = current.suspects.get(suspect, 0) + 1
        if retry_after_s is not None:
            reason = f"Retry-After {retry_after_s:g}s: {reason}"
            self._open(channel_id, entry, reason, at_least_s=retry_after_s)
            return
        requests, failed = self._counts(entry)
        if entry.state is ChannelState.HALF_OPEN:
            if failed:
                self._open(channel_id, entry, f"failed while half-open: {reason}")
        elif requests >= self._min_requests and failed * 100 >= self._failure_percent * requests:
            summary = f"{failed} of {requests} requests failed within {self._window_s:g}s"
            self._open(channel_id, entry, f"{summary}: {reason}")

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

    def _slice(self, entry: _Entry) -> _Slice:
        """The window's current slice, once the slices that slid out of it are dropped."""
        index = int(self.clock() // self._slice_s)
        window = entry.window
        if window and window[-1].index == index:
            return window[-1]
        if window and window[-1].index > index:
            window.clear()  # the clock was swapped for one that is behind
        while window and window[0].index <= index - _SLICES:
            window.popleft()
        current = _Slice(index)
        window.append(current)
        return current

    def _counts(self, entry: _Entry) -> tuple[int, int]:
        """The window's requests and failures, without the failures a request may have
        provoked of the `min_keys - 1` keys that have the most."""
        requests = failed = 0
        by_key: Counter[str] = Counter()
        for part in entry.window:
            requests += part.requests
            failed += part.channel_faults
            by_key.update(part.suspects)
        excused = sum(count for _, count in by_key.most_common(self._min_keys - 1))
        return requests - excused, failed + by_key.total() - excused

    def _step_s(self, openings: int) -> float:
        """The uncapped cooldown of the n-th opening."""
        return self._base_cooldown_s * 2.0 ** min(openings - 1, _MAX_EXPONENT)

    def _open(self, channel_id: str, entry: _Entry, reason: str, at_least_s: float = 0.0) -> None:
        entry.openings += 1
        # max(step, nan) is step, so a garbled Retry-After cannot poison the cooldown.
        cooldown = min(max(self._step_s(entry.openings), at_least_s), self._max_cooldown_s)
        entry.until = self.clock() + cooldown
        entry.failures = 0
        # What led here is paid for by the cooldown; a trial starts from a clean window.
        entry.window.clear()
        old = entry.state
        entry.state = ChannelState.OPEN
        self._notify(channel_id, old, ChannelState.OPEN, reason)

    def _notify(self, channel_id: str, old: ChannelState, new: ChannelState, reason: str) -> None:
        if self.on_change is not None:
            self.on_change(channel_id, old, new, reason)
