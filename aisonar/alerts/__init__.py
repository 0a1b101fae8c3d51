"""Alerts: an organization's alert rules on its cost, error rate, latency or balance (the
`alert_rules` table, `models`, thresholds and windows in `units`), created, changed and
deleted by its admins (`services`, audited; who may in `access`), and their evaluation
(`evaluation`): each rule read against the rollups or the balance, an `alert_firing` or
`alert_resolved` notice when it changes state.

It may import the layers below it: `analytics`, `privacy`, `exports`, `support`,
`observability`, `usage`, `accounts`, `limits`, `billing`, `notify`, `channels`, `audit`
and the base. Used by `api`, `console`, `cli`, and `app`, which runs the evaluation."""
