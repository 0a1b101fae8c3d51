"""Observability: the gateway's Prometheus metrics in a registry per app (`metrics`,
`request_metrics`, `series`, bounded `labels`, the GenAI conventions in `semconv`), its
vitals (`vitals`), the optional OTLP export of spans and metrics (`otlp`, `otlp_spans`,
`otlp_metrics`), and what operators check first, which needs no running server
(`system_status`); `services` is what the front ends call. It owns no tables.

It may import the layers below it: `usage`, `accounts`, `limits`, `billing`, `notify`,
`channels`, `audit` and the base. It reads the gateway's channel table through its own
protocols (`channel_view`). Used by the gateway, `web`, `cli` and `app`."""
