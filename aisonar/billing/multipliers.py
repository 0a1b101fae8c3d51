"""Price multipliers as integer parts per million (1.25x = 1,250,000), applied to a
cost with one rounding up."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from aisonar.errors import InvalidInput
from aisonar.i18n import N_

PPM = 1_000_000


def parse_multiplier(text: str) -> int:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(
            N_("{text!r} is not a multiplier"), param="multiplier", text=text
        ) from None
    ppm = value * PPM
    if not value.is_finite() or value <= 0 or ppm != ppm.to_integral_value():
        raise InvalidInput(
            N_("{text!r} must be a positive multiplier with at most six decimals"),
            param="multiplier",
            text=text,
        )
    return int(ppm)


def format_multiplier(ppm: int) -> str:
    return f"{Decimal(ppm) / PPM:f}"


def effective_markup(plan_ppm: int, org_ppm: int | None) -> int:
    return plan_ppm if org_ppm is None else -(-plan_ppm * org_ppm // PPM)


def marked_up(cost: int, markup_ppm: int) -> int:
    return cost if markup_ppm == PPM else -(-cost * markup_ppm // PPM)
