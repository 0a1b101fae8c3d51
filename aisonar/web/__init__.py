"""Web plumbing shared by the two front ends, the REST API (`aisonar/admin/`) and the
console (`aisonar/console/`): FastAPI dependency providers for the running services and
the signed-in caller, the HTTP error types, the same-origin check, the cookie-consent
choice, analytics scoping, balances and the system status as both show them, numbered
ids read at the boundary and streamed downloads.

Both front ends import this package; it imports neither of them. Below it: the gateway's
service bag, the domain packages and the base (`store`, `config`, `errors`, `i18n`)."""
