from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aisonar.billing.money import format_amount, parse_amount
from aisonar.billing.price_database import lookup
from aisonar.billing.pricing import ModelPrice, Rate
from aisonar.errors import InvalidInput
from aisonar.token_usage import TokenUsage


@pytest.mark.parametrize(
    ("text", "units"), [("12.50", 12_500_000), ("0.000001", 1), ("7", 7_000_000)]
)
def test_amounts_are_exact_integers(text: str, units: int) -> None:
    assert parse_amount(text) == units
    assert parse_amount(format_amount(units)) == units


@pytest.mark.parametrize("text", ["abc", "-1", "0", "0.0000001", "nan", "inf", "1e400x"])
def test_bad_amounts_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_amount(text)


@pytest.mark.parametrize("text", ["1e999999999", "9223372036854.775808", "1e13"])
def test_amounts_past_64_bits_are_refused_before_any_arithmetic(text: str) -> None:
    with pytest.raises(InvalidInput, match="too large"):
        parse_amount(text)
    assert parse_amount("9223372036854.775807") == 2**63 - 1


def test_format_keeps_every_micro_unit() -> None:
    assert format_amount(12_500_000) == "12.50"
    assert format_amount(1) == "0.000001"
    assert format_amount(-2_030_000) == "-2.03"


def test_openai_arithmetic_counts_cached_tokens_inside_input() -> None:
    price = lookup("gpt-4o-mini", "openai")
    assert price is not None and price.version.startswith("genai-prices")
    # $0.15/M input, $0.075/M cached input, $0.60/M output:
    # 900 x 0.15 + 100 x 0.075 + 500 x 0.60 = 442.5 micro-units, rounded up once.
    usage = TokenUsage(input_tokens=1000, cached_input_tokens=100, output_tokens=500)
    assert price.cost(usage) == 443


def test_cliff_tiers_apply_to_all_tokens() -> None:
    price = ModelPrice(
        model="m",
        version="v",
        input=Rate(1_000_000, ((200_000, 2_000_000),)),
        cached_input=Rate(0),
        cache_write=Rate(0),
        output=Rate(0),
    )
    assert price.cost(TokenUsage(input_tokens=200_000)) == 200_000
    assert price.cost(TokenUsage(input_tokens=200_001)) == 400_002


def test_unknown_models_have_no_catalogue_price() -> None:
    assert lookup("no-such-model-anywhere", "openai") is None


@given(
    input_bound=st.integers(0, 2_000_000),
    output_bound=st.integers(0, 200_000),
    data=st.data(),
)
def test_no_usage_within_the_bounds_costs_more_than_the_hold(
    input_bound: int, output_bound: int, data: st.DataObject
) -> None:
    """A hold is the most a request can cost, whatever it reads from or writes to the
    cache: Claude's cache writes cost 1.25 times its plain input."""
    price = lookup("claude-sonnet-4-5", "anthropic")
    assert price is not None and price.cache_write.base > price.input.base
    input_tokens = data.draw(st.integers(0, input_bound))
    cache_write = data.draw(st.integers(0, input_tokens))
    cached = data.draw(st.integers(0, input_tokens - cache_write))
    usage = TokenUsage(
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        cache_write_tokens=cache_write,
        output_tokens=data.draw(st.integers(0, output_bound)),
    )
    assert price.cost(usage) <= price.most(input_bound, output_bound)
