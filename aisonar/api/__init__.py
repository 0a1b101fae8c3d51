"""The management REST API under `/api/` (`app.py`, described at `/api/openapi.json`): one
module per area (`orgs`, `users`, `keys`, `me`, `session`, `money`, `catalog`, `limits`,
`alerts`, `webhooks`, `support`, `policies`, `deletion`, ...), the request and response
bodies in `schemas.py` and keyset paging in `paging.py`. It owns no tables: its endpoints
translate HTTP to the domain packages' use cases and back.

It may import the layers below it: `web`, `ingest`, the gateway, the domain packages and
the base. It and `console` are independent: neither imports the other. Only `app` uses
it, mounting the API beside the console."""
