"""Wire formats as data, pure functions over parsed JSON with no I/O: per format (`openai`,
`anthropic`, `gemini`, `responses`, the embeddings' `gemini_embeddings` and
`openai_embeddings_to_gemini`) the request fields the gateway reads, usage in and out
(`TokenUsage`) and its errors (`openai_errors`); and the checks every dialect applies to a
body (`body_errors`, `duplicate_fields`, `output_limit`, `prompt_bound`).

Part of the gateway: it imports the gateway's errors, `usage` and the base (`errors`,
`token_usage`); the dialects, adapters and translations above it use it."""
