"""Support requests: a person asks the operators for help and the two exchange messages
until one of them closes it (the `support_requests` and `support_messages` tables,
`models`). `services` opens, writes in, answers and closes them, a person's own counted
against their hourly allowance.

It may import the layers below it: `observability`, `usage`, `accounts`, `limits`,
`billing`, `notify`, `channels`, `audit` and the base. Used by `exports` (the personal
export), `web`, the front ends and `cli`."""
