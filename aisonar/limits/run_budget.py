"""Run budgets: a cap a client puts on one run of its application (an agent's loop, a
batch), so that a runaway run stops at its budget instead of at the balance.

A run is named by the client (`x-aisonar-run-id`) within its organization, and its budget
(`x-aisonar-run-budget`) is set by the run's first request. Each request of the run holds
the most it can cost on the run, as on a spend quota, only if what the run spent and holds
stays within the budget; when it ends, the hold is replaced with the real cost. A later
request naming another budget for the same run is refused: the budget is the run's, not
the request's. A run is forgotten a day after its last use.

The run lives only in the counters' store (in-process or Redis); nothing of it is loaded
from the database, so a run outlives neither a restart of an in-process gateway nor a
Redis that keeps nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aisonar.errors import require_not_negative, require_positive

RUN_TTL_S = 24 * 3600
# Runs unused for a day are swept every this many holds.
_SWEEP_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class RunCheck:
    """At most `budget` micro-units spent by run `run_id` of organization `org_id`."""

    org_id: str
    run_id: str
    budget: int

    @property
    def key(self) -> str:
        # The organization's id is the hash tag: a run's keys share its Redis Cluster slot.
        return f"run:{{{self.org_id}}}:{self.run_id}"


@dataclass(frozen=True, slots=True)
class RunDecision:
    """Whether a hold was taken; if not, what the run had committed (spent plus held) and
    the budget it was started with (another than the request's is a conflict)."""

    allowed: bool
    committed: int = 0
    budget: int = 0


HELD = RunDecision(True)


class _Run:
    __slots__ = ("budget", "held", "holds", "spent", "used")

    def __init__(self, budget: int, used: float) -> None:
        self.budget = budget
        self.spent = 0
        self.held = 0
        self.holds: dict[str, int] = {}
        self.used = used


class MemoryRunBudgets:
    """The in-process runs (one server process): each hold decided without an await, so it
    is atomic on the event loop. Holds need no expiry here: they die with the process."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        self._holds = 0

    def hold(self, hold_id: str, check: RunCheck, amount: int) -> RunDecision:
        require_positive(amount, "A run hold")
        now = time.monotonic()
        self._holds += 1
        if self._holds % _SWEEP_EVERY == 0:
            self._sweep(now)
        run = self._runs.get(check.key)
        if run is None or (now - run.used > RUN_TTL_S and not run.holds):
            run = self._runs[check.key] = _Run(check.budget, now)
        if run.budget != check.budget:
            return RunDecision(False, run.spent + run.held, run.budget)
        if run.spent + run.held + amount > run.budget:
            return RunDecision(False, run.spent + run.held, run.budget)
        run.held += amount
        run.holds[hold_id] = amount
        run.used = now
        return HELD

    def settle(self, hold_id: str, check: RunCheck, cost: int) -> None:
        """Replace the hold with the real cost (0 gives it back)."""
        require_not_negative(cost, "A cost")
        run = self._runs.get(check.key)
        if run is None:
            return
        run.held -= run.holds.pop(hold_id, 0)
        run.spent += cost
        run.used = time.monotonic()

    def _sweep(self, now: float) -> None:
        stale = [k for k, r in self._runs.items() if now - r.used > RUN_TTL_S and not r.holds]
        for key in stale:
            del self._runs[key]
