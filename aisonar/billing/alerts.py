"""Balance alerts: crossing the organization's low-balance threshold, and reaching zero."""

from __future__ import annotations

from typing import Any

from aisonar.billing.money import format_amount
from aisonar.notify.notices import BALANCE_EXHAUSTED, BALANCE_LOW


def balance_alerts(before: int, after: int, threshold: int) -> list[tuple[str, dict[str, Any]]]:
    """The notices a move of the balance from `before` to `after` calls for."""
    alerts: list[tuple[str, dict[str, Any]]] = []
    if threshold > 0 and before >= threshold > after:
        alerts.append(
            (BALANCE_LOW, {"balance": format_amount(after), "threshold": format_amount(threshold)})
        )
    if before > 0 >= after:
        alerts.append((BALANCE_EXHAUSTED, {"balance": format_amount(after)}))
    return alerts
