"""Thresholds and windows as people write them (decimal strings, durations such as 15m)
and as rules keep them (integers in each kind's unit, seconds)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from aisonar.alerts.models import AlertKind
from aisonar.billing.money import format_amount, parse_amount
from aisonar.errors import InvalidInput
from aisonar.i18n import N_

MIN_WINDOW_S = 60
MAX_WINDOW_S = 7 * 86400
# Windows up to this are read from minute rollups, fresh to the second; longer ones must
# be whole hours and are read from hour rollups.
LONGEST_MINUTE_WINDOW_S = 6 * 3600
MAX_LATENCY_MS = 600_000
MAX_FORECAST_DAYS = 365
MAX_CREDITS = 10**12
MILLIONTHS = 1_000_000
_WINDOW = re.compile(r"^(\d{1,6})([mhd])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}


def parse_window(text: str) -> int:
    match = _WINDOW.match(text.strip().lower())
    if match is None:
        raise InvalidInput(
            N_("window {text!r} is not a duration such as 15m, 2h or 7d"), param="window", text=text
        )
    seconds = int(match[1]) * _UNIT_S[match[2]]
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise InvalidInput(
            N_("window {text!r} must be from 1 minute to 7 days"), param="window", text=text
        )
    if seconds > LONGEST_MINUTE_WINDOW_S and seconds % 3600:
        raise InvalidInput(
            N_("a window longer than 6h must be whole hours, which {text!r} is not"),
            param="window",
            text=text,
        )
    return seconds


def format_window(seconds: int) -> str:
    for suffix, size in (("d", 86400), ("h", 3600)):
        if seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds // 60}m"


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(
            N_("threshold {text!r} is not a decimal number"), param="threshold", text=text
        ) from None
    if not value.is_finite():
        raise InvalidInput(
            N_("threshold {text!r} is not a decimal number"), param="threshold", text=text
        )
    if abs(value) >= MAX_CREDITS:
        raise InvalidInput(N_("threshold {text!r} is too large"), param="threshold", text=text)
    return value


def _millionths(text: str) -> int:
    """An error rate: a fraction (0.05) or a percentage (5%), strictly between 0 and 1."""
    percent = text.strip().endswith("%")
    value = _decimal(text.strip().removesuffix("%")) / (100 if percent else 1)
    millionths = value * MILLIONTHS
    if millionths != millionths.to_integral_value():
        raise InvalidInput(
            N_("threshold {text!r} is finer than a millionth of the requests"),
            param="threshold",
            text=text,
        )
    if not 0 < value < 1:
        raise InvalidInput(
            N_("an error rate threshold is between 0 and 1 (0% and 100%), not {text!r}"),
            param="threshold",
            text=text,
        )
    return int(millionths)


def _milliseconds(text: str) -> int:
    value = _decimal(text)
    if value != value.to_integral_value() or not 0 < value <= MAX_LATENCY_MS:
        raise InvalidInput(
            N_(
                "a latency threshold is whole milliseconds from 1 to {max_latency_ms}, not {text!r}"
            ),
            param="threshold",
            max_latency_ms=MAX_LATENCY_MS,
            text=text,
        )
    return int(value)


def _days(text: str) -> int:
    value = _decimal(text)
    if value != value.to_integral_value() or not 0 < value <= MAX_FORECAST_DAYS:
        raise InvalidInput(
            N_("a forecast threshold is whole days from 1 to {max_days}, not {text!r}"),
            param="threshold",
            max_days=MAX_FORECAST_DAYS,
            text=text,
        )
    return int(value)


def parse_threshold(kind: AlertKind, text: str) -> int:
    if kind is AlertKind.ERROR_RATE:
        return _millionths(text)
    if kind in (AlertKind.LATENCY, AlertKind.TTFT):
        return _milliseconds(text)
    if kind is AlertKind.FORECAST:
        return _days(text)
    _decimal(text)
    return parse_amount(text, param="threshold")


def format_fraction(millionths: int) -> str:
    """333_333 -> "0.333333"; 50_000 -> "0.05"."""
    return str((Decimal(millionths) / MILLIONTHS).normalize()) if millionths else "0"


def format_threshold(kind: AlertKind, value: int) -> str:
    if kind is AlertKind.ERROR_RATE:
        return format_fraction(value)
    if kind in (AlertKind.LATENCY, AlertKind.TTFT, AlertKind.FORECAST):
        return str(value)
    return format_amount(value)
