"""Accounts: organizations, users and their roles, API keys, personal access tokens,
sessions and passwords (the `organizations`, `plans`, `users`, `api_keys`, `access_tokens`,
`sessions`, `email_changes` and `password_resets` tables), and the markups on plans and
organizations. Its use cases: `directory` (create, list, look up), `organizations`,
`members`, `membership`, `key_changes`, `rotation`, `tokens`, `sign_in`, `login`,
`reauthentication`, `email_change`, `forgotten_password`, `invitations`, `plans`,
`expiry`; who may reach what in `access` and `principal`, pages in SQL in `listing`.
`services` names those the front ends and the other packages call; the modules build on
`directory`, never on `services`.

It may import the layers below it: `limits`, `billing`, `notify`, `channels`, `audit` and
the base (`store`, `config`, `errors`, `clock`, `crypto`, `i18n`). Used by the front ends
(`api`, `console`, `cli`, `web`), `app`, the gateway, ingest, and the domain packages
above it (`alerts`, `privacy`, `exports`, `support`, `usage`)."""
