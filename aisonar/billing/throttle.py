"""Failed redemption attempts per API key over the last hour, so codes cannot be guessed.
(Per process; the shared rate-limit store takes this over with the limits work.)"""

from __future__ import annotations

from collections import OrderedDict, deque

from aisonar.errors import Throttled
from aisonar.i18n import N_

_WINDOW_S = 3600.0
_TRACKED_KEYS = 100_000


class TooManyAttempts(Throttled):
    code = "too_many_redeem_attempts"
    refusal = N_("Too many invalid codes; try again in {retry_after} seconds.")

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after, retry_after=str(retry_after))


class FailureWindow:
    def __init__(self, allowed: int) -> None:
        self._allowed = allowed
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, key_id: str, now: float) -> None:
        failures = self._failures.get(key_id)
        while failures and failures[0] <= now - _WINDOW_S:
            failures.popleft()
        if failures and len(failures) >= self._allowed:
            raise TooManyAttempts(int(failures[0] + _WINDOW_S - now) + 1)

    def fail(self, key_id: str, now: float) -> None:
        self._failures.setdefault(key_id, deque()).append(now)
        self._failures.move_to_end(key_id)
        if len(self._failures) > _TRACKED_KEYS:
            self._failures.popitem(last=False)
