"""A request's counters, moved together: its rate limits and slots in flight (admit,
finish), its spend quotas and its organization's balance (hold, settle). A request asks
for them twice: admit and hold its first attempt at once, then settle its last attempt
and finish at once; a request of a client's run holds on the run's budget too
(`limits.run_budget`); a failover settles one attempt and holds the next at once. On Redis
each of these is one script, one round trip (`redis_counters`); in-process they are the
stores' own calls, in the same order and with the same outcome.

The order is fixed: a settle is applied first, whatever follows. Then every check is
made before anything is taken: a request refused by a rate limit takes nothing; one
refused by a spend quota or the balance has been admitted (its rate and slot are taken,
and given back or corrected when it finishes) but holds nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from aisonar.billing.store import BalanceStore, Hold, InsufficientBalance
from aisonar.limits.run_budget import MemoryRunBudgets, RunCheck
from aisonar.limits.spend import SpendCheck, SpendStore
from aisonar.limits.store import Decision, LimitStore, RateCheck, SlotCheck


@dataclass(frozen=True, slots=True)
class Admit:
    rates: Sequence[RateCheck]
    slots: Sequence[SlotCheck]


@dataclass(frozen=True, slots=True)
class HoldOn:
    """Hold `amount` on each spend counter and, unless they are None, the run's budget and
    the balance."""

    spend: Sequence[SpendCheck]
    org_id: str | None
    amount: int
    run: RunCheck | None = None


@dataclass(frozen=True, slots=True)
class Settle:
    """Replace what a `HoldOn` of the same request id held with `cost`; None gives the
    balance's hold back and charges nothing (the spend counters take 0)."""

    spend: Sequence[SpendCheck]
    balance: Hold | None
    cost: int | None
    run: RunCheck | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """Give back the slots, and add `delta` units to the token buckets."""

    slots: Sequence[SlotCheck]
    tokens: Sequence[RateCheck]
    delta: int


class Refusal(Enum):
    RATE = "rate"
    SPEND = "spend"
    RUN = "run"
    BALANCE = "balance"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the checks decided: the admission's decision when there was one; the first
    refusal, with the spend counter that refused and what it had committed, what the run
    had committed and the budget it was started with, or what the balance had available."""

    decision: Decision | None = None
    refused: Refusal | None = None
    spend_refused_by: SpendCheck | None = None
    committed: int = 0
    available: int = 0
    run_budget: int = 0


DONE = Outcome()


class Counters(Protocol):
    async def run(
        self,
        request_id: str,
        *,
        settle: Settle | None = None,
        admit: Admit | None = None,
        hold: HoldOn | None = None,
        finish: Finish | None = None,
    ) -> Outcome:
        """Settle, then admit and hold if every check passes (see the module's
        docstring), then finish; the holds and slots are named by `request_id`."""
        ...

    async def close(self) -> None:
        """Close what the counters opened themselves (not the stores)."""
        ...


class LocalCounters:
    """The stores' own calls, one after the other: for the in-process stores, where a
    call costs no round trip."""

    def __init__(self, limits: LimitStore, spend: SpendStore, balance: BalanceStore) -> None:
        self._limits = limits
        self._spend = spend
        self._balance = balance
        # Runs are the counters' own: nothing else reads them.
        self._runs = MemoryRunBudgets()

    async def run(
        self,
        request_id: str,
        *,
        settle: Settle | None = None,
        admit: Admit | None = None,
        hold: HoldOn | None = None,
        finish: Finish | None = None,
    ) -> Outcome:
        if settle is not None:
            await self._settle(request_id, settle)
        decision = None
        if admit is not None:
            decision = await self._limits.admit(request_id, admit.rates, admit.slots)
            if not decision.allowed:
                return Outcome(decision, Refusal.RATE)
        if hold is not None:
            refused = await self._hold(request_id, hold)
            if refused is not None:
                return Outcome(
                    decision,
                    refused.refused,
                    refused.spend_refused_by,
                    refused.committed,
                    refused.available,
                    refused.run_budget,
                )
        if finish is not None:
            await self._limits.finish(request_id, finish.slots, finish.tokens, finish.delta)
        return Outcome(decision)

    async def _hold(self, request_id: str, hold: HoldOn) -> Outcome | None:
        if hold.spend:
            spend = await self._spend.hold(request_id, hold.spend, hold.amount)
            if not spend.allowed:
                return Outcome(None, Refusal.SPEND, spend.refused_by, spend.committed)
        if hold.run is not None:
            run = self._runs.hold(request_id, hold.run, hold.amount)
            if not run.allowed:
                if hold.spend:
                    await self._spend.settle(request_id, hold.spend, 0)
                return Outcome(None, Refusal.RUN, committed=run.committed, run_budget=run.budget)
        if hold.org_id is None:
            return None
        try:
            await self._balance.hold(hold.org_id, hold.amount, request_id)
        except InsufficientBalance as short:
            if hold.run is not None:
                self._runs.settle(request_id, hold.run, 0)
            if hold.spend:
                await self._spend.settle(request_id, hold.spend, 0)
            return Outcome(None, Refusal.BALANCE, available=short.available)
        return None

    async def _settle(self, request_id: str, settle: Settle) -> None:
        if settle.balance is not None:
            if settle.cost is None:
                await self._balance.release(settle.balance)
            else:
                await self._balance.settle(settle.balance, settle.cost)
        if settle.spend:
            await self._spend.settle(request_id, settle.spend, settle.cost or 0)
        if settle.run is not None:
            self._runs.settle(request_id, settle.run, settle.cost or 0)

    async def close(self) -> None:
        return None
