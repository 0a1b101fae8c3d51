"""The shape of an upstream adapter: how to reach a provider, and how its answers map to
the hub; with the readers of its streams it hands the relay (`StreamUsage`, `HubReader`)."""

from __future__ import annotations

import re
from typing import Protocol

from aisonar.channels.models import ChannelWithSecret
from aisonar.gateway.wire.hub import JsonObject
from aisonar.token_usage import TokenUsage


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


class UpstreamAdapter(Protocol):
    name: str

    def headers(self, channel: ChannelWithSecret) -> dict[str, str]:
        """The request headers for a channel, built once, not per request."""
        ...

    def url(self, base_url: str, model: str, stream: bool) -> str: ...

    def models_url(self, base_url: str) -> str:
        """The provider's model list: free to call, so it serves as a health probe."""
        ...

    def request_from_hub(self, hub: JsonObject) -> bytes: ...

    def response_to_hub(self, body: bytes, model: str) -> JsonObject: ...

    def stream_reader(self, model: str) -> HubReader: ...

    def body_usage(self, body: bytes) -> TokenUsage | None: ...

    def stream_usage(self, *, hide_usage_chunk: bool) -> StreamUsage: ...
