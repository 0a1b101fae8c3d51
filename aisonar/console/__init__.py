"""The web console: server-rendered pages for people, on the same domain services as the
management API, served by the same FastAPI app. Every page works without JavaScript;
the script only draws charts, copies secrets and reports page views with consent.
It owns one router per area (`dashboard`, `keys`, `usage`, `org_*`, `operator_*`, ...),
`mount` (its pages, static files and `security` headers), `render` and `templates/`,
`visit`, `navigation`, `csrf` (forms) and `routing`; no tables.

It may import the layers below it: `web`, `ingest`, the gateway, the domain packages and
the base. It and `api` are independent: neither imports the other. Only `app` uses it,
mounting it beside the API."""
