"""The shape of an upstream adapter: how to reach a provider, and how its answers map to the hub."""

from __future__ import annotations

from typing import Protocol

from aisonar.channels.models import ChannelWithSecret
from aisonar.gateway.relay import HubReader, StreamUsage
from aisonar.gateway.translate.hub import JsonObject
from aisonar.token_usage import TokenUsage


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
