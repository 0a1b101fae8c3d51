"""Google Vertex AI: a Google Cloud project's models in one location (a region, or `global`),
Google's Gemini and Anthropic's Claude on one channel, each in its publisher's own format.
`publishers` (which publisher serves a model, its paths, and what Vertex changes in its
bodies), `upstream` (the adapter of one publisher's models: the paths and credentials are
Vertex's, the bodies and answers those of the format's own adapter, which the registry
hands it, so this folder imports no other format's) and `tokens` (the service account's
access tokens). See the `wire` package for the layout."""
