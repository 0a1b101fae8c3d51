"""Web plumbing shared by the two front ends, the REST API (`aisonar/api/`) and the
console (`aisonar/console/`): FastAPI dependency providers for the running services and
the signed-in caller, the HTTP error types, the same-origin check, the cookie-consent
choice, analytics scoping, balances and the system status as both show them, numbered
ids read at the boundary and streamed downloads.

Modules: `deps`, `errors`, `same_origin`, `cookie_consent`, `sessions`, `inputs`,
`analytics_scope`, `balances`, `system_status`, `ids`, `downloads`, `archives`; no tables.
Both front ends import this package; it imports neither of them. It may import the layers
below it: `ingest`, the gateway (its service bag), the domain packages and the base."""
