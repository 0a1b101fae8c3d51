"""Upstream channels: a provider account and the models it serves (the `channels` table,
`models`, with the circuit breaker's `ChannelState`), model names and `*` patterns
(`model_names`), creating, listing and loading them with their keys sealed, and
operators' changes to them (`services`).

It may import the layers below it: `audit` and the base (`store`, `crypto`, `errors`,
`clock`, `i18n`). Used by the gateway (routing, failover), `observability`, `accounts`
(the models a key may use), the front ends and `app`."""
