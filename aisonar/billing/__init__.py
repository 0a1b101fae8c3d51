"""Billing: money as integer micro-units (`money`, `multipliers`), prices (`prices`,
`pricing`, `price_database`, `output_limits`), the append-only ledger and its batched
writer (`ledger`, `ledger_writer`, the `ledger_entries` table and `organizations.balance`),
the live balance store with its holds (`store`, `memory_store`, `redis_store`),
redemption codes (`codes`, `throttle`, the `redemption_codes` table), operator prices
(`model_prices`), recharges, payments, monthly statements and balance alerts. `services`
is what the front ends call.

It may import the layers below it: `notify`, `channels`, `audit` and the base (`store`,
`errors`, `clock`, `i18n`, `token_usage`). Used by the gateway, ingest, `accounts`,
`limits`, `observability`, `analytics`, `alerts`, `exports`, the front ends and `app`."""
