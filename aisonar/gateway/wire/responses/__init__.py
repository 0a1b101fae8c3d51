"""OpenAI's Responses API (`POST /v1/responses`), a client format only: `format` (the
request fields the gateway reads, usage, stream errors), `hub_client` (a Responses request
as a hub request, for another provider), `answers` and `stream` (hub answers and stream
chunks as Responses) and `compaction` (Codex's remote compaction on providers other than
OpenAI). The `responses_api` endpoint serves it; see the `wire` package for the layout."""
