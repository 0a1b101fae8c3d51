"""Inbound dialects: one per wire format clients speak (`openai`, `anthropic`, `gemini`),
each the shape `dialect.Dialect` gives: how a client is authenticated, read, answered and
told about errors. Part of the gateway: it imports the gateway's `auth`, `http`, `relay`,
`formats/` and `translate/` and the base `errors`; the pipeline uses it."""
