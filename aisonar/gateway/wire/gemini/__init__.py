"""Gemini generateContent (Google AI Studio): `format` (usage and errors), `client` (the
dialect of clients speaking it), `upstream` (the adapter of Gemini providers), `hub_client`
and `hub_client_answers` (a Gemini client served by another provider through the hub: its
request, then the answers), `hub_upstream` and `hub_upstream_replies` (a hub request sent
to Gemini, then its answers read back). Embeddings besides: `embeddings` (Gemini's
`:embedContent` and `:batchEmbedContents`, and their translation to and from OpenAI's
`/embeddings`) and `embeddings_from_openai` (OpenAI's `/embeddings` served by a Gemini
channel). See the `wire` package for the layout."""
