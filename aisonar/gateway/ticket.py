"""A request's counters, asked twice: its first attempt's hold asks its admission too,
and its end asks its last settle with the release of its slots, each in one call of the
counters (one Redis round trip). A failover settles one attempt and holds the next in
one call. An attempt's settle waits for the next call: whatever ends the request, `end`
makes it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aisonar.billing.store import InsufficientBalance
from aisonar.gateway.admission import ADMITTED, Admission, Limiter, LimitRefusal
from aisonar.gateway.charging import Hold
from aisonar.gateway.counters import Counters, Outcome, Refusal, Settle
from aisonar.gateway.http import Exchange
from aisonar.gateway.quotas import SpendQuotas
from aisonar.gateway.run_budget import RunBudgetConflict, RunBudgetSpent
from aisonar.store.redis_client import UNREACHABLE
from aisonar.token_usage import TokenUsage

log = logging.getLogger(__name__)


class BalanceStoreUnavailable(LimitRefusal):
    status = 503
    kind = "server_error"
    code = "balance_store_unavailable"
    retry_after = "1"
    decision = "refused: balance store unreachable"


@dataclass(frozen=True, slots=True)
class Decisions:
    """What the rate limits and the spend quotas decided about a held attempt, for its
    usage event (None where none applies)."""

    limits: str | None
    quotas: str | None


@dataclass
class Ticket:
    counters: Counters
    limiter: Limiter
    quotas: SpendQuotas
    exchange: Exchange
    admission: Admission
    # Whether the admission was asked (and granted): its slots are then given back.
    _admitted: bool = False
    _settle: Settle | None = None

    async def hold(self, hold: Hold) -> Decisions:
        """Hold an attempt (admitting the request with it, the first time): raise a
        LimitRefusal or InsufficientBalance, or say what was decided."""
        admit = None if self._admitted else self.admission.checks
        settle, self._settle = self._settle, None
        request_id = self.exchange.request_id
        try:
            outcome = await self.counters.run(request_id, settle=settle, admit=admit, hold=hold.on)
        except UNREACHABLE:
            return self._unreachable(admit is not None, hold)
        limits = None
        if outcome.decision is not None:
            assert admit is not None
            limits = self.limiter.decided(self.exchange, self.admission, outcome.decision)
            self._admitted = True
        self._refuse(outcome, hold)
        return Decisions(limits, ADMITTED if hold.quotas else None)

    def settle(self, settle: Settle) -> None:
        """The attempt's settle, made by the next call."""
        self._settle = settle

    async def end(self, usage: TokenUsage) -> None:
        """Settle the last attempt and give back the request's slots and unused tokens."""
        finish = self.limiter.finish(self.admission, usage) if self._admitted else None
        settle, self._settle = self._settle, None
        try:
            await self.counters.run(self.exchange.request_id, settle=settle, finish=finish)
        except UNREACHABLE:
            self.limiter.metrics.limit_store_errors.inc()
            log.warning(
                "counters unreachable; a request's holds and slots expire on their own"
                " (its charge is in the ledger)"
            )

    def _refuse(self, outcome: Outcome, hold: Hold) -> None:
        if outcome.refused is Refusal.SPEND:
            assert outcome.spend_refused_by is not None
            raise self.quotas.refused(outcome.spend_refused_by, outcome.committed, hold.amount)
        if outcome.refused is Refusal.RUN:
            assert hold.run is not None
            if outcome.run_budget != hold.run.budget:
                raise RunBudgetConflict(hold.run, outcome.run_budget)
            raise RunBudgetSpent(hold.run, outcome.committed, hold.amount)
        if outcome.refused is Refusal.BALANCE:
            raise InsufficientBalance(hold.amount, outcome.available)

    def _unreachable(self, admitting: bool, hold: Hold) -> Decisions:
        """The counters could not be asked: each kind fails open or closed as set; a
        balance cannot be held without them."""
        limits = self.limiter.unreachable() if admitting else None
        quotas = self.quotas.unreachable() if hold.quotas else None
        # A run's budget cannot be kept without them either.
        if hold.balance is not None or hold.run is not None:
            log.warning("balance store unreachable; request refused")
            raise BalanceStoreUnavailable("The balance cannot be checked; retry shortly.")
        return Decisions(limits, quotas)
