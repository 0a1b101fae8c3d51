"""The in-process balance store: exact within one process. Another process cannot see
these holds, so `serve --workers N` with N > 1 requires the Redis store. Holds need no
expiry here: they die with the process that made them."""

from __future__ import annotations

import asyncio

from aisonar.billing.store import Hold, InsufficientBalance, LiveBalance, Loader
from aisonar.errors import require_not_negative, require_positive


class _Account:
    __slots__ = ("balance", "credited", "held", "through_entry")

    def __init__(self, balance: int, through_entry: int) -> None:
        self.balance = balance
        self.held = 0
        self.through_entry = through_entry
        self.credited: set[int] = set()


def _apply_credit(account: _Account, entry_id: int, amount: int) -> None:
    if entry_id > account.through_entry and entry_id not in account.credited:
        account.credited.add(entry_id)
        account.balance += amount


class MemoryBalanceStore:
    def __init__(self, load: Loader) -> None:
        self._load = load
        self._accounts: dict[str, _Account] = {}
        self._loading: dict[str, asyncio.Future[_Account]] = {}
        # Credits that arrive while an org is being loaded, applied after it is.
        self._early_credits: dict[str, list[tuple[int, int]]] = {}

    async def _account(self, org_id: str) -> _Account:
        account = self._accounts.get(org_id)
        if account is not None:
            return account
        pending = self._loading.get(org_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Account] = asyncio.get_running_loop().create_future()
        self._loading[org_id] = future
        self._early_credits[org_id] = []
        try:
            durable = await self._load(org_id)
            account = _Account(durable.balance, durable.through_entry)
            for entry_id, amount in self._early_credits[org_id]:
                _apply_credit(account, entry_id, amount)
            self._accounts[org_id] = account
            future.set_result(account)
            return account
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved here; waiters re-raise it
            raise
        finally:
            del self._loading[org_id]
            del self._early_credits[org_id]

    async def hold(self, org_id: str, amount: int, hold_id: str) -> Hold:
        require_positive(amount, "A hold")
        account = await self._account(org_id)
        available = account.balance - account.held
        if amount > available:
            raise InsufficientBalance(amount, available)
        account.held += amount
        return Hold(org_id, amount, hold_id)

    async def settle(self, hold: Hold, cost: int) -> None:
        require_not_negative(cost, "A cost")
        account = self._accounts[hold.org_id]
        account.held -= hold.amount
        account.balance -= cost

    async def release(self, hold: Hold) -> None:
        self._accounts[hold.org_id].held -= hold.amount

    async def credit(self, org_id: str, entry_id: int, amount: int) -> None:
        if org_id in self._early_credits:
            self._early_credits[org_id].append((entry_id, amount))
            return
        account = self._accounts.get(org_id)
        if account is not None:
            _apply_credit(account, entry_id, amount)

    async def live(self, org_id: str) -> LiveBalance | None:
        account = self._accounts.get(org_id)
        return None if account is None else LiveBalance(account.balance, account.held)

    async def close(self) -> None:
        return None
