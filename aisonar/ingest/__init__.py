"""Ingest: usage that applications report about the calls they made to providers
themselves, turned into priced usage events (`reported`): batches at
`POST /api/ingest/events` (`events`) and OpenTelemetry GenAI spans at `POST /v1/traces`
(`otlp`, `genai_spans`), their bodies read (`body`) and queued to the usage writer all or
nothing (`queue`). `routes.py` is what the app mounts on the gateway. It owns no tables.

It sits above the gateway and may import it (its HTTP exchange, errors, key
authentication and service bag), the domain packages and the base; the gateway imports
nothing of it. Only `app` uses it."""
