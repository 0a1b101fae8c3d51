"""The store: the schema (`tables.py`, `privacy_tables.py` on `metadata.py`'s naming
convention), the async engine for SQLite or PostgreSQL (`engine`), Alembic migrations
(`migrate`, `migrations/`), the change log every server polls to refresh its caches
(`changes`, with `KEY_ENTITY`), claiming a row for one server (`claims`), and the roles
`users.role` holds (`roles`), which accounts and notify both name.

It is the base layer with `config`, `errors`, `clock`, `crypto`, `i18n` and
`token_usage`, which it may import; it imports nothing above. Every other layer uses it."""
