"""Usage: one event per request, metadata only (the `usage_events` table, `models`,
`storable`), written in batches off the request path (`writer`) with their minute
rollups (`rollups`, `rollup_dimensions` and `usage_rollups`; `compaction` rebuilds hours
and days), latency histograms (`histogram`), a person's usage log (`log`), PostgreSQL's
day partitions (`partitions`), retention (`retention`) and offline token counting
(`tokens`). `services` is what the front ends call.

It may import the layers below it: `accounts`, `limits`, `billing`, `notify`, `channels`,
`audit` and the base. Used by the gateway, ingest, `observability`, `analytics`,
`alerts`, `exports`, `testing`, the front ends and `app`."""
