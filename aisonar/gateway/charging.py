"""Hold, then settle: the most an attempt can cost, to be reserved before forwarding it
on its spend quotas and its organization's balance; the real cost that replaces the
hold when it ends, or nothing (the hold released) if nothing was delivered. The request's
counters (`gateway.ticket`) carry both out; the pipeline settles in `finally`, so no
error, cancellation or crash of the attempt can leak a hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.ledger_writer import LedgerWriter
from aisonar.billing.multipliers import PPM, effective_markup, format_multiplier, marked_up
from aisonar.billing.output_limits import model_output_limit
from aisonar.billing.prices import PriceBook
from aisonar.billing.pricing import ModelPrice
from aisonar.billing.store import BalanceStore
from aisonar.billing.store import Hold as BalanceHold
from aisonar.billing.throttle import FailureWindow
from aisonar.gateway.counters import HoldOn, Settle
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.quotas import SpendQuotas
from aisonar.gateway.routing import Route
from aisonar.limits.run_budget import RunCheck
from aisonar.limits.spend import SpendCheck
from aisonar.token_usage import TokenUsage


class OutputLimitExceeded(InvalidRequest):
    def __init__(self, field: str, requested: int, model: str, limit: int) -> None:
        super().__init__(
            f"`{field}` is {requested}, but `{model}` writes at most {limit} tokens.",
            param=field,
        )


@dataclass
class Billing:
    store: BalanceStore
    prices: PriceBook
    ledger: LedgerWriter
    default_max_output_tokens: int
    redeem_failures: FailureWindow
    payment_webhook_secret: str
    currency: str
    quotas: SpendQuotas
    enabled: bool = True

    def price_for(self, route: Route) -> ModelPrice:
        return self.prices.price(route.priced_model, route.priced_provider)

    def output_bound(self, route: Route, requested: int | None, field: str, *, clamp: bool) -> int:
        """The most output tokens the upstream will be allowed to write for one choice: the
        client's limit, or the gateway's default, within the model's own limit. A client's
        limit past the model's is clamped when the request is translated (the client asked
        another model's question), and refused when it goes to its own provider."""
        model = route.priced_model
        limit = model_output_limit(model, route.priced_provider)
        if requested is None:
            return min(self.default_max_output_tokens, limit or self.default_max_output_tokens)
        if limit is None or requested <= limit:
            return requested
        if clamp:
            return limit
        raise OutputLimitExceeded(field, requested, model, limit)

    def hold(
        self,
        identity: KeyIdentity,
        request_id: str,
        price: ModelPrice,
        *,
        input_bound: int,
        output_bound: int,
        end_user: str | None = None,
        run: RunCheck | None = None,
    ) -> Hold:
        """The most the attempt can cost, to hold on its spend quotas (those of its end user
        included), its client's run, and (unless it is free or billing is off) its
        organization's balance."""
        markup = effective_markup(identity.plan_markup_ppm, identity.org_markup_ppm)
        amount = marked_up(price.most(input_bound, output_bound), markup)
        quotas = self.quotas.held_on(identity, amount, end_user)
        # A free model's request reserves nothing, so no store is asked.
        held_run = run if amount > 0 else None
        if not (self.enabled and amount > 0):
            return Hold(request_id, price, markup, amount, quotas, None, held_run)
        balance = BalanceHold(identity.org_id, amount, request_id)
        return Hold(request_id, price, markup, amount, quotas, balance, held_run)

    def settle(self, hold: Hold, charge: Charge | None, model: str) -> Settle:
        """Charge the balance and the quotas `charge` instead of what was held (its
        ledger entry written); with none, release the hold."""
        if hold.balance is not None and charge is not None:
            self.ledger.submit(hold.balance.org_id, charge.cost, hold.request_id, model)
        return Settle(hold.quotas, hold.balance, None if charge is None else charge.cost, hold.run)


class Charge(NamedTuple):
    """What an attempt costs, and the version of the price it was charged at (with its
    markup, when there is one)."""

    cost: int
    price_version: str


@dataclass(frozen=True, slots=True)
class Hold:
    """What one attempt holds: the most it can cost, on its spend quotas, its client's run
    (when it names one) and (unless it is free or billing is off) its organization's
    balance."""

    request_id: str
    price: ModelPrice
    markup: int
    amount: int
    quotas: Sequence[SpendCheck]
    balance: BalanceHold | None
    run: RunCheck | None = None

    @property
    def on(self) -> HoldOn:
        org_id = None if self.balance is None else self.balance.org_id
        return HoldOn(self.quotas, org_id, self.amount, self.run)

    def charge(self, usage: TokenUsage) -> Charge | None:
        """What `usage` costs; None when a balance was held and nothing was delivered, so
        that the hold is released and nothing charged."""
        if self.balance is not None and not (usage.input_tokens or usage.output_tokens):
            return None
        cost = marked_up(self.price.cost(usage), self.markup)
        if self.markup == PPM:
            return Charge(cost, self.price.version)
        return Charge(cost, f"{self.price.version} x{format_multiplier(self.markup)}")
