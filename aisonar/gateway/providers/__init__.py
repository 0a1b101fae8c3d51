"""Upstream adapters, one per provider (`openai`, `anthropic`, `gemini`), each an
`adapter.UpstreamAdapter`: how to reach the provider and how its answers map to the hub;
`registry` names the adapter of each `channels.models.Provider`. Part of the gateway: it
imports the gateway's `errors`, `relay`, `sse`, `formats/` and `translate/`, `channels`
and the base `token_usage`; routing and the pipeline use it."""
