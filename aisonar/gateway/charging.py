"""Hold, then settle: reserve the most an attempt can cost before forwarding it, on its
spend quotas and its organization's balance; replace the hold with the real cost when
it ends, or release it if nothing was delivered. The pipeline settles in `finally`, so
no error, cancellation or crash of the attempt can leak a hold."""

from __future__ import annotations

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
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.quotas import QuotaHold, SpendQuotas
from aisonar.gateway.routing import Route
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
        return self.prices.price(route.priced_model, route.channel.channel.provider)

    def output_bound(self, route: Route, requested: int | None, field: str, *, clamp: bool) -> int:
        """The most output tokens the upstream will be allowed to write for one choice: the
        client's limit, or the gateway's default, within the model's own limit. A client's
        limit past the model's is clamped when the request is translated (the client asked
        another model's question), and refused when it goes to its own provider."""
        model = route.priced_model
        limit = model_output_limit(model, route.channel.channel.provider)
        if requested is None:
            return min(self.default_max_output_tokens, limit or self.default_max_output_tokens)
        if limit is None or requested <= limit:
            return requested
        if clamp:
            return limit
        raise OutputLimitExceeded(field, requested, model, limit)

    async def hold(
        self,
        identity: KeyIdentity,
        request_id: str,
        price: ModelPrice,
        *,
        input_bound: int,
        output_bound: int,
        end_user: str | None = None,
    ) -> Hold:
        """Hold the most the attempt can cost on its spend quotas (QuotaExceeded), those
        of its end user included, and its organization's balance (InsufficientBalance);
        `settle` ends the hold."""
        markup = effective_markup(identity.plan_markup_ppm, identity.org_markup_ppm)
        amount = marked_up(price.most(input_bound, output_bound), markup)
        quotas = await self.quotas.hold(identity, request_id, amount, end_user)
        # A free model's request reserves nothing, so the balance store is not asked.
        if not (self.enabled and amount > 0):
            return Hold(request_id, price, markup, quotas, None)
        try:
            balance = await self.store.hold(identity.org_id, amount, request_id)
        except BaseException:
            await self.quotas.settle(request_id, quotas, 0)
            raise
        return Hold(request_id, price, markup, quotas, balance)

    async def settle(self, hold: Hold, charge: Charge | None, model: str) -> None:
        """Charge the balance and the quotas `charge` instead of what was held; with none,
        release the hold."""
        balance = hold.balance
        try:
            if balance is not None and charge is None:
                await self.store.release(balance)
            elif balance is not None and charge is not None:
                await self.store.settle(balance, charge.cost)
                self.ledger.submit(balance.org_id, charge.cost, hold.request_id, model)
        finally:
            cost = 0 if charge is None else charge.cost
            await self.quotas.settle(hold.request_id, hold.quotas, cost)


class Charge(NamedTuple):
    """What an attempt costs, and the version of the price it was charged at (with its
    markup, when there is one)."""

    cost: int
    price_version: str


@dataclass(frozen=True, slots=True)
class Hold:
    """What one attempt holds: the most it can cost, on its spend quotas and (unless it is
    free or billing is off) its organization's balance."""

    request_id: str
    price: ModelPrice
    markup: int
    quotas: QuotaHold
    balance: BalanceHold | None

    def charge(self, usage: TokenUsage) -> Charge | None:
        """What `usage` costs; None when a balance was held and nothing was delivered, so
        that the hold is released and nothing charged."""
        if self.balance is not None and not (usage.input_tokens or usage.output_tokens):
            return None
        cost = marked_up(self.price.cost(usage), self.markup)
        if self.markup == PPM:
            return Charge(cost, self.price.version)
        return Charge(cost, f"{self.price.version} x{format_multiplier(self.markup)}")
