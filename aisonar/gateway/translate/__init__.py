"""Translation between wire formats through one hub, OpenAI chat completions (see `hub`):
for clients, their requests in and answers out (`anthropic_inbound`, `gemini_inbound` and
`gemini_answers`, `responses_inbound`, `responses_answers` and `responses_stream`); for
upstreams, requests out and replies in (`anthropic_outbound`, `anthropic_structured`,
`gemini_outbound` and `gemini_replies`); `delivery` and `responses_compaction` besides.

Pure functions and small stateful stream converters over parsed JSON; no I/O. Part of the
gateway: it imports the gateway's `errors`, `http`, `sse` and `formats/`, billing's model
catalogue (`output_limits`) and the base (`errors`, `token_usage`); the dialects, the
adapters and the pipeline use it."""
