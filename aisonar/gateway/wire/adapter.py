"""The shape of an upstream adapter: how to reach a provider, and how its answers map to
the hub; with the readers of its streams it hands the relay (`StreamUsage`, `HubReader`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from aisonar.channels.models import Channel, ChannelWithSecret
from aisonar.gateway.wire.hub import JsonObject
from aisonar.token_usage import TokenUsage

if TYPE_CHECKING:
    import aiohttp


class StreamUsage(Protocol):
    """Reads usage from the events of one stream in the upstream's format."""

    marker: re.Pattern[bytes]
    usage: TokenUsage | None

    def observe(self, data: bytes) -> bool:
        """Read the data of an event that matched `marker`; False to keep it from the client."""
        ...


class HubReader(Protocol):
    """Turns an upstream's stream events into hub chunks."""

    @property
    def usage(self) -> TokenUsage | None:
        """The stream's usage once the upstream reported its final counts."""
        ...

    def feed(self, event: bytes) -> list[JsonObject]: ...

    def finish(self) -> list[JsonObject]: ...


@runtime_checkable
class RawStreamReader(HubReader, Protocol):
    """A HubReader of a stream that is no server-sent events (Bedrock's AWS event stream, in
    binary frames): the relay hands its `feed` the bytes as they arrive, in pieces of any
    size, and it frames them itself. Other readers get whole events."""

    raw_stream: Literal[True]


class Signer(Protocol):
    """Authorizes each request of one channel whose credentials are no fixed header: a
    fresh access token (minted when needed and cached until shortly before it expires), or
    a signature over the request. Made once per channel and kept while the channel's
    provider, base URL, options and secret stay the same (gateway/signers.py)."""

    async def authorize(
        self, session: aiohttp.ClientSession, method: str, url: str, body: bytes
    ) -> dict[str, str]:
        """The headers to add to this request. A failure to obtain credentials raises a
        gateway error (`UpstreamRejected` 502, `UpstreamUnavailable`), so the request can
        fail over."""
        ...

    def refused(self, sent: dict[str, str]) -> bool:
        """The upstream refused the credentials in `sent` (HTTP 401). True when they were
        dropped (a token revoked or expired early), so that the request is worth sending
        once more with new ones; False when new ones would be the same (a signature)."""
        ...


class UpstreamAdapter(Protocol):
    # The wire format spoken (`openai`, `anthropic`, `gemini`): a client of the same format
    # is passed through. A cloud provider speaking a format keeps its name.
    name: str
    # True where the upstream's model names are the operator's own (Azure's deployments):
    # prices and output limits are then looked up by the name the client asked for.
    prices_client_names: bool

    def headers(self, channel: ChannelWithSecret) -> dict[str, str]:
        """The request headers for a channel, built once, not per request."""
        ...

    def signer(self, channel: ChannelWithSecret) -> Signer | None:
        """None when `headers` carry all a request needs (a fixed API key): the request
        path then awaits nothing more."""
        ...

    def url(self, channel: Channel, model: str, stream: bool) -> str:
        """The generation endpoint of `model` (the upstream's name for it)."""
        ...

    def path_url(self, channel: Channel, model: str, path: str) -> str:
        """One of the format's other endpoints, named by its path under the public API's
        base URL (`/embeddings`, `/responses`, `/v1/messages/count_tokens`): a cloud host
        maps it to its own."""
        ...

    def models_url(self, channel: Channel) -> str:
        """The provider's model list: free to call, so it serves as a health probe."""
        ...

    def refused_answer(self, status: int, body: bytes, stream: bool) -> bytes | None:
        """For a client of another format, the answer (in this provider's format, a
        stream's events when `stream`) standing for an error that is, to that client, a
        refusal (Azure's content filter blocking a prompt); None for any other error."""
        ...

    def passthrough_body(self, body: bytes) -> bytes:
        """A client's body of the same format as this upstream takes it: the body itself,
        but where a cloud host wants a field moved (Vertex's Claude: no `model`, its
        `anthropic_version` in the body)."""
        ...

    def request_from_hub(self, hub: JsonObject) -> bytes: ...

    def response_to_hub(self, body: bytes, model: str) -> JsonObject: ...

    def stream_reader(self, model: str) -> HubReader: ...

    def body_usage(self, body: bytes) -> TokenUsage | None: ...

    def stream_usage(self, *, hide_usage_chunk: bool) -> StreamUsage: ...
