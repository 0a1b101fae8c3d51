"""OpenAI chat completions, the hub's own format: `format` (the request fields the gateway
reads, body rewriting, usage), `errors` (OpenAI's error shape), `client` (the dialect of
clients speaking it) and `upstream` (the adapter of OpenAI and OpenAI-compatible providers;
translation from the hub only removes the hub's extensions). See the `wire` package for the
layout."""
