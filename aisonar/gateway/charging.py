"""Hold, then settle: reserve the most a request can cost before forwarding it; replace
the hold with the real cost when it ends, or release it if nothing was delivered.
The release and settlement sit in `finally`, so no error, cancellation or crash of the
handler can leak a hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aisonar.billing.ledger_writer import LedgerWriter
from aisonar.billing.multipliers import PPM, effective_markup, format_multiplier, marked_up
from aisonar.billing.output_limits import model_output_limit
from aisonar.billing.prices import PriceBook
from aisonar.billing.pricing import ModelPrice
from aisonar.billing.store import BalanceStore
from aisonar.billing.throttle import FailureWindow
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.quotas import SpendQuotas
from aisonar.gateway.routing import Route


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
        return self.prices.price(route.upstream_model, route.channel.channel.provider)

    def output_bound(self, route: Route, requested: int | None, field: str, *, clamp: bool) -> int:
        """The most output tokens the upstream will be allowed to write for one choice: the
        client's limit, or the gateway's default, within the model's own limit. A client's
        limit past the model's is clamped when the request is translated (the client asked
        another model's question), and refused when it goes to its own provider."""
        model = route.upstream_model
        limit = model_output_limit(model, route.channel.channel.provider)
        if requested is None:
            return min(self.default_max_output_tokens, limit or self.default_max_output_tokens)
        if limit is None or requested <= limit:
            return requested
        if clamp:
            return limit
        raise OutputLimitExceeded(field, requested, model, limit)


@asynccontextmanager
async def held(
    billing: Billing,
    meter: RequestMeter,
    price: ModelPrice,
    *,
    input_bound: int,
    output_bound: int,
) -> AsyncIterator[None]:
    """The most the request can cost is held on its spend quotas and its organization's
    balance; on the way out both are charged its real cost instead."""
    assert meter.identity is not None
    identity = meter.identity
    markup = effective_markup(identity.plan_markup_ppm, identity.org_markup_ppm)
    amount = marked_up(price.most(input_bound, output_bound), markup)
    async with billing.quotas.held(meter, amount):
        # A free model's request reserves nothing, so the balance store is not asked.
        if billing.enabled and amount > 0:
            async with _balance_held(billing, meter, amount, price, markup):
                yield
        else:
            try:
                yield
            finally:
                _price(meter, price, markup)


def _price(meter: RequestMeter, price: ModelPrice, markup: int) -> None:
    meter.cost = marked_up(price.cost(meter.usage), markup)
    if markup == PPM:
        meter.price_version = price.version
    else:
        meter.price_version = f"{price.version} x{format_multiplier(markup)}"


@asynccontextmanager
async def _balance_held(
    billing: Billing, meter: RequestMeter, amount: int, price: ModelPrice, markup: int
) -> AsyncIterator[None]:
    assert meter.identity is not None and meter.route is not None
    hold = await billing.store.hold(meter.identity.org_id, amount, meter.request_id)
    try:
        yield
    finally:
        usage = meter.usage
        if usage.input_tokens or usage.output_tokens:
            _price(meter, price, markup)
            await billing.store.settle(hold, meter.cost)
            billing.ledger.submit(
                hold.org_id, meter.cost, meter.request_id, meter.route.upstream_model
            )
        else:
            await billing.store.release(hold)
