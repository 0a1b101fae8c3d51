"""The wire formats the gateway speaks, one folder each (`openai`, `anthropic`, `gemini`,
`responses`, and the cloud hosts `azure`, `bedrock`, `vertex`), and the hub machinery they
share. Pure functions and small stateful stream converters over parsed JSON; the only I/O is
a cloud adapter's signer fetching credentials (an access token, an assumed role's keys)
through the session it is handed.

A format's folder holds, under the same names, the parts it has:
- `format.py`: the format as data: the request fields the gateway reads, usage in and out
  (`TokenUsage`), its errors.
- `client.py`: its client dialect, a `dialect.Dialect`: how a client speaking it is
  authenticated, read, answered and told about errors.
- `upstream.py`: its provider adapter, an `adapter.UpstreamAdapter`: how to reach the
  provider and how its answers map to the hub.
- `hub_client.py`: a client of the format served by another provider through the hub, its
  request into the hub and the hub's answer back.
- `hub_upstream.py`: a hub request sent to an upstream of the format, and its answer read
  back into the hub.
OpenAI chat completions are the hub, so `openai` needs no translation; `responses` is a
client format only, served by the `responses_api` endpoint.

Shared: `hub` (the hub's documents), `dialect` and `adapter` (the shapes of a client dialect
and a provider adapter), `delivery_only` (the hub fields that only change delivery, and the
providers that take them). Above the formats, knowing them all: `registry` (the adapter of
each `channels.models.Provider`) and `delivery` (what a translation drops, named for the
client).

Adding a provider is adding a folder: its `format.py`, its `upstream.py` and, unless it
speaks the hub's format, its `hub_upstream.py`; `client.py` and `hub_client.py` if clients
speak it too. Then a `channels.models.Provider` value, its line in `registry`, and in
`delivery_only`'s table the delivery-only fields it takes.

A format's folder imports the shared modules, never another format's (`.importlinter`, the
`wire` contract; one exception: Gemini's embeddings, served by OpenAI, read OpenAI's
usage). The package imports the gateway's `auth`, `body/`, `errors`, `http` and `sse`,
`billing`'s model catalogue, `channels` and the base (`errors`, `token_usage`, `usage`'s
token counter); the gateway's endpoints, the pipeline, routing and relay use it."""
