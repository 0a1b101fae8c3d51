"""Money is integer micro-units of the operator's currency: 1 credit = 1,000,000 units.
Amounts cross the edges (command line, APIs) as decimal strings, never floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from aisonar.errors import InvalidInput
from aisonar.i18n import N_

UNITS_PER_CREDIT = 1_000_000


# Amounts are stored as 64-bit micro-units: at most 9,223,372,036,854.775807 credits.
MAX_UNITS = 2**63 - 1
_MAX_EXPONENT = 12


def parse_amount(text: str, *, param: str = "amount", allow_zero: bool = False) -> int:
    """`"12.50"` -> 12_500_000. More than six decimals is refused, not rounded."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(N_("{text!r} is not a decimal amount"), param=param, text=text) from None
    if not value.is_finite():
        raise InvalidInput(N_("{text!r} is not a decimal amount"), param=param, text=text)
    # Checked before any arithmetic: "1e999999999" would otherwise become an integer of
    # a billion digits.
    if value.adjusted() > _MAX_EXPONENT or value * UNITS_PER_CREDIT > MAX_UNITS:
        raise InvalidInput(N_("{text!r} is too large"), param=param, text=text)
    units = value * UNITS_PER_CREDIT
    if units != units.to_integral_value():
        raise InvalidInput(N_("{text!r} has more than six decimal places"), param=param, text=text)
    if units < 0 or (units == 0 and not allow_zero):
        raise InvalidInput(N_("{text!r} must be greater than zero"), param=param, text=text)
    return int(units)


def format_amount(units: int) -> str:
    """12_500_000 -> "12.50"; keeps every significant micro-unit."""
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), UNITS_PER_CREDIT)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}{whole}.{digits}"
