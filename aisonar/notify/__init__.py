"""Notices: events people should hear of (the `notices` table, `notices`), each person's
choices and inbox (`notice_opt_outs`, `preferences`, `reading`), and their delivery: fan-out
(`dispatch`), the notifier (`sender`) with email over SMTP (`email`) and signed webhooks
(`webhooks`, `webhook_client`, `signing`, `addresses`; the `webhook_endpoints` and
`notice_deliveries` tables), rendering from templates (`render`, `templates/`), and mail
sent at once outside notices (`direct`). `services` is what the front ends call.

It may import the layers below it: `channels`, `audit` and the base (`store`, `config`,
`crypto`, `errors`, `clock`, `i18n`). The domain packages above it raise notices here
(`billing`, `accounts`, `alerts`, `privacy`, `support`, ...); the front ends and `app`
(which runs the notifier) use it too."""
