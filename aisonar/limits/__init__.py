"""Limits: rate limits and spend quotas per key, user, organization and plan (the
`rate_limits` table, `models`), set and read (`services`, with who may); the limit
store deciding every limit of a request at once (`store`, `memory_store`, `redis_store`);
spend quotas held beside the balance (`spend`, `memory_spend`, `redis_spend`, what was
spent in `spent`); and throttles of people's actions (`throttle`).

It may import the layers below it: `billing`, `notify`, `channels`, `audit` and the base.
Used by the gateway's admit step, `accounts`, `privacy`, `support`, `exports`, the front
ends and `app`."""
