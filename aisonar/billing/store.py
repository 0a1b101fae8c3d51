"""The live balance store: holds, settlements and credits, atomic per organization.
Two implementations behind this interface: in-process (the embedded default) and Redis
(any number of gateway processes); one conformance suite runs against both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aisonar.billing.money import format_amount
from aisonar.errors import AISonarError
from aisonar.i18n import N_


class InsufficientBalance(AISonarError):
    status = 402
    kind = "insufficient_balance"
    code = "insufficient_balance"

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(
            N_(
                "This request may cost up to {needed} but the available balance is "
                "{available}. Recharge, or lower max_tokens."
            ),
            needed=format_amount(needed),
            available=format_amount(available),
        )
        self.needed = needed
        self.available = available


@dataclass(frozen=True, slots=True)
class Hold:
    org_id: str
    amount: int
    id: str


@dataclass(frozen=True, slots=True)
class DurableBalance:
    """An organization's balance as the database has it, and the newest ledger entry in it."""

    balance: int
    through_entry: int


@dataclass(frozen=True, slots=True)
class LiveBalance:
    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held


Loader = Callable[[str], Awaitable[DurableBalance]]


class BalanceStore(Protocol):
    async def hold(self, org_id: str, amount: int, hold_id: str) -> Hold:
        """Reserve `amount` or raise InsufficientBalance; loads the org on first use. A
        hold whose holder dies without settling it expires (stores shared by processes)."""
        ...

    async def settle(self, hold: Hold, cost: int) -> None:
        """Replace the hold with the real cost (which is charged even if it exceeds it)."""
        ...

    async def release(self, hold: Hold) -> None: ...

    async def credit(self, org_id: str, entry_id: int, amount: int) -> None:
        """Apply a ledger entry written elsewhere (a recharge), once, if the org is loaded
        and the entry is newer than what was loaded."""
        ...

    async def live(self, org_id: str) -> LiveBalance | None: ...

    async def close(self) -> None: ...
