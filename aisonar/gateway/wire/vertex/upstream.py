"""Vertex AI upstreams: one adapter per publisher, the bodies and answers in the publisher's
format (its own adapter, `bodies`, does the translation and reads the usage), the paths and
credentials Vertex's. The registry makes one for Google's Gemini and one for Anthropic's
Claude, and picks between them by model (`publishers.publisher_of`).

The credentials are a service account's key file: each request carries an access token
minted from it (`tokens.GoogleTokens`). The health probe lists the project's endpoints in
the channel's location (free, and it needs the same role as the models)."""

from __future__ import annotations

from aisonar.channels.credentials import service_account
from aisonar.channels.models import Channel, ChannelWithSecret
from aisonar.gateway.wire.adapter import HubReader, StreamUsage, UpstreamAdapter
from aisonar.gateway.wire.hub import JsonObject
from aisonar.gateway.wire.vertex.publishers import Publisher, location_path
from aisonar.gateway.wire.vertex.tokens import GoogleTokens
from aisonar.token_usage import TokenUsage

_HEADERS = {"Content-Type": "application/json", "Accept-Encoding": "identity"}


class VertexPublisherModels:
    """The models of one publisher on Vertex AI."""

    # Vertex names models as their publishers do, so prices are found by those names.
    prices_client_names = False

    def __init__(self, publisher: Publisher, bodies: UpstreamAdapter) -> None:
        self.publisher = publisher
        self._bodies = bodies
        self.name = bodies.name

    def headers(self, channel: ChannelWithSecret) -> dict[str, str]:
        return dict(_HEADERS)

    def signer(self, channel: ChannelWithSecret) -> GoogleTokens:
        return GoogleTokens(service_account(channel.api_key))

    def url(self, channel: Channel, model: str, stream: bool) -> str:
        return self.publisher.url(channel, model, stream)

    def path_url(self, channel: Channel, model: str, path: str) -> str:
        return self.publisher.path_url(channel, model, path)

    def models_url(self, channel: Channel) -> str:
        return location_path(channel) + "/endpoints?pageSize=1"

    def passthrough_body(self, body: bytes) -> bytes:
        return self.publisher.body(body)

    def refused_answer(self, status: int, body: bytes, stream: bool) -> bytes | None:
        return self._bodies.refused_answer(status, body, stream)

    def request_from_hub(self, hub: JsonObject) -> bytes:
        return self.publisher.body(self._bodies.request_from_hub(hub))

    def response_to_hub(self, body: bytes, model: str) -> JsonObject:
        return self._bodies.response_to_hub(body, model)

    def stream_reader(self, model: str) -> HubReader:
        return self._bodies.stream_reader(model)

    def body_usage(self, body: bytes) -> TokenUsage | None:
        return self._bodies.body_usage(body)

    def stream_usage(self, *, hide_usage_chunk: bool) -> StreamUsage:
        return self._bodies.stream_usage(hide_usage_chunk=hide_usage_chunk)
