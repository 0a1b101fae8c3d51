"""Anthropic Messages: `format` (usage and errors), `client` (the dialect of clients
speaking it), `upstream` (the adapter of Anthropic providers), `hub_client` (an Anthropic
client served by another provider through the hub), `hub_upstream` (a hub request sent to
Anthropic and its answer read back) and `structured` (a hub `response_format` as Anthropic's
structured outputs or a forced tool). See the `wire` package for the layout."""
