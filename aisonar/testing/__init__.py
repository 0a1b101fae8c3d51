"""What tests, benchmarks and `aisonar demo` run against: the fake upstream
(`fake_upstream.py`, with `fake_anthropic`, `fake_gemini`, `fake_responses`, embeddings
and the shared `fake_core`, `fake_replies`, `fake_schema`), the only stand-in for a real
provider, and a real gateway on a loopback port in-process (`gateway_server`). It owns no
tables.

An entry point: it may import `app` and every layer below it. `cli` uses it
(`aisonar fake-upstream`, `aisonar demo`), as do `tests/` and `bench/`."""
