"""The personal data export (`GET /api/me/export`, `aisonar privacy export`): everything
held about a person as a ZIP archive. `parts.PARTS` is the registry of what it holds (the
JSON documents there, the CSV tables in `tables`), `models` the shapes of a part, and
`archive` writes and audits the archive. It reads the domains' tables and services; no
domain imports it."""
