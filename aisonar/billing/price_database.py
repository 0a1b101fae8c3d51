"""Prices from the maintained `genai-prices` package (offline snapshot; its automatic
update stays off), converted once per model into integer rates."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from importlib.metadata import version

import genai_prices
from genai_prices import Usage
from genai_prices.types import TieredPrices

from aisonar.billing.pricing import FREE, ModelPrice, Rate
from aisonar.channels.presets import PRICED_BY_HOST

VERSION = f"genai-prices {version('genai-prices')}"
_MICRO = Decimal(1_000_000)


def _units(price: Decimal) -> int:
    return int((price * _MICRO).to_integral_value(rounding=ROUND_CEILING))


def _rate(price: Decimal | TieredPrices | None) -> Rate:
    if price is None:
        return FREE
    if isinstance(price, TieredPrices):
        return Rate(_units(price.base), tuple((t.start, _units(t.price)) for t in price.tiers))
    return Rate(_units(price))


# Providers that sell models at prices of their own: a model unknown in their catalogue is
# not priced as the model maker sells it (Bedrock's ids are genai-prices' `aws` provider),
# nor a model an OpenAI-compatible host serves (an unknown one stays refused until priced).
_OWN_PRICES = frozenset({"bedrock", *PRICED_BY_HOST})


def lookup(model: str, provider: str | None) -> ModelPrice | None:
    """The catalogue price of `model` (as the upstream names it), or None if unknown."""
    tried = (provider,) if provider is None or provider in _OWN_PRICES else (provider, None)
    for provider_id in tried:
        try:
            found = genai_prices.calc_price(Usage(input_tokens=0), model, provider_id=provider_id)
        except LookupError:
            continue
        prices = found.model_price
        return ModelPrice(
            model=model,
            version=VERSION,
            input=_rate(getattr(prices, "input_mtok", None)),
            cached_input=_rate(getattr(prices, "cache_read_mtok", None)),
            cache_write=_rate(getattr(prices, "cache_write_mtok", None)),
            output=_rate(getattr(prices, "output_mtok", None)),
        )
    return None
