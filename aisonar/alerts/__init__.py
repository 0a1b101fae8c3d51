"""Alerts: an organization's alert rules on its cost, error rate, latency, balance or
balance forecast (the `alert_rules` table, `models`, thresholds and windows in `units`),
created, changed and deleted by its admins (`services`, audited, with who may),
and their evaluation (`evaluation`): each rule read against the rollups, the balance or
the days it lasts at the recent spend rate (`forecast`), an `alert_firing` or
`alert_resolved` notice by the rule's channels when it changes state, and a row of its
firing history (`history`, the `alert_firings` table).

It may import the layers below it: `analytics`, `privacy`, `exports`, `support`,
`observability`, `usage`, `accounts`, `limits`, `billing`, `notify`, `channels`, `audit`
and the base. Used by `api`, `console`, `cli`, and `app`, which runs the evaluation."""
