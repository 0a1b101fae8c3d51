"""Billing's use cases, as the front ends (`api`, `console`, `cli`) call them: credit an
organization (a recharge, or an entry of the ledger's own), read its ledger, balance and
monthly statements, set its low-balance threshold; make, list and revoke redemption
codes; set and read operator prices; amounts between credits as people write them and
integer micro-units. The front ends import billing from here, never its other modules;
the use cases live in the modules named below, each split by what it does, and the
types they take and give come with them."""

from __future__ import annotations

from aisonar.billing.codes import (
    AmountText,
    BatchStanding,
    CodeBatch,
    CodeOrder,
    create_codes,
    get_batch,
    list_batches,
    revoke_batch,
)
from aisonar.billing.ledger import (
    LedgerEntry,
    LedgerKind,
    NewEntry,
    credit,
    durable_balance,
    entry_by_id,
    recent_entries,
    set_low_balance_threshold,
)
from aisonar.billing.money import format_amount, parse_amount
from aisonar.billing.prices import (
    BilledPrice,
    OperatorPrice,
    PriceSetting,
    PriceText,
    billed_price,
    list_operator_prices,
    set_price,
)
from aisonar.billing.recharges import NoteText, Recharge, ReferenceText, recharge_org
from aisonar.billing.standing import current_balance
from aisonar.billing.statements import MAX_MONTHS, Statement, recent_statements
from aisonar.billing.store import BalanceStore, DurableBalance

__all__ = [
    "MAX_MONTHS",
    "AmountText",
    "BalanceStore",
    "BatchStanding",
    "BilledPrice",
    "CodeBatch",
    "CodeOrder",
    "LedgerEntry",
    "LedgerKind",
    "NewEntry",
    "NoteText",
    "OperatorPrice",
    "PriceSetting",
    "PriceText",
    "Recharge",
    "ReferenceText",
    "Statement",
    "billed_price",
    "create_codes",
    "credit",
    "current_balance",
    "durable_balance",
    "entry_by_id",
    "format_amount",
    "get_batch",
    "held_in_redis",
    "list_batches",
    "list_operator_prices",
    "parse_amount",
    "recent_entries",
    "recent_statements",
    "recharge_org",
    "revoke_batch",
    "set_low_balance_threshold",
    "set_price",
]


async def held_in_redis(url: str, org_id: str) -> int:
    """What an organization's requests in flight hold, read from the gateways' Redis: holds
    live only in the gateway, and with Redis they can be read from another process too."""
    # Only a process that reads Redis pays for importing its client.
    from aisonar.billing.redis_store import RedisBalanceStore

    async def unused_loader(_: str) -> DurableBalance:
        raise AssertionError("not loading")

    store = RedisBalanceStore(url, unused_loader, hold_ttl_s=1)
    try:
        live = await store.live(org_id)
        return live.held if live else 0
    finally:
        await store.close()
