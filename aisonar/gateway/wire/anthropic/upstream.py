"""Anthropic upstreams: the base URL is what the official SDK takes
(`https://api.anthropic.com`); the gateway appends `/v1/messages`."""

from __future__ import annotations

import orjson

from aisonar.channels.models import Channel, ChannelWithSecret
from aisonar.gateway.wire.anthropic.format import AnthropicStreamUsage, anthropic_body_usage
from aisonar.gateway.wire.anthropic.hub_upstream import (
    AnthropicStreamToHub,
    anthropic_response_to_hub,
    hub_request_to_anthropic,
)
from aisonar.gateway.wire.hub import JsonObject
from aisonar.token_usage import TokenUsage

# The API version the gateway speaks when it translates; a client speaking Anthropic
# itself sends its own, which is passed on.
ANTHROPIC_VERSION = "2023-06-01"
MESSAGES_PATH = "/v1/messages"


def anthropic_headers(channel: ChannelWithSecret) -> dict[str, str]:
    return {
        "x-api-key": channel.api_key,
        "anthropic-version": ANTHROPIC_VERSION,
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "Accept-Encoding": "identity",
    }


class AnthropicProvider:
    name = "anthropic"
    prices_client_names = False

    def headers(self, channel: ChannelWithSecret) -> dict[str, str]:
        return anthropic_headers(channel)

    def signer(self, channel: ChannelWithSecret) -> None:
        return None

    def url(self, channel: Channel, model: str, stream: bool) -> str:
        return channel.base_url + MESSAGES_PATH

    def path_url(self, channel: Channel, model: str, path: str) -> str:
        return channel.base_url + path

    def models_url(self, channel: Channel) -> str:
        return channel.base_url + "/v1/models"

    def passthrough_body(self, body: bytes) -> bytes:
        return body

    def refused_answer(self, status: int, body: bytes, stream: bool) -> None:
        return None

    def request_from_hub(self, hub: JsonObject) -> bytes:
        return orjson.dumps(hub_request_to_anthropic(hub))

    def response_to_hub(self, body: bytes, model: str) -> JsonObject:
        return anthropic_response_to_hub(orjson.loads(body))

    def stream_reader(self, model: str) -> AnthropicStreamToHub:
        return AnthropicStreamToHub()

    def body_usage(self, body: bytes) -> TokenUsage | None:
        return anthropic_body_usage(body)

    def stream_usage(self, *, hide_usage_chunk: bool) -> AnthropicStreamUsage:
        return AnthropicStreamUsage()
