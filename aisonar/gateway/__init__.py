"""The gateway: the hot path every forwarded request takes (`pipeline.py`: authenticate,
read, route, admit, hold, forward, settle, record), its endpoints, the ASGI entry
(`asgi.py`) and its error edge, the service bag (`services.py`) and what a route is
(`endpoint.py`); the steps in their own modules (`auth`, `routing`, `admission`,
`charging`, `quotas`, `failover`, `health`, `relay`, `metering`); the wire formats,
one folder each (`wire/`), and the checks every body gets (`body/`). It owns no tables.

It may import the layers below it: the domain packages (`alerts` down to `audit`; it uses
`accounts`, `billing`, `channels`, `limits`, `observability`, `usage`) and the base. Used
by `ingest` (above it), `web`, the front ends, `testing`, `cli` and `app`, which builds
the service bag and hands the gateway the routes it mounts."""
