"""Gemini (Google AI Studio) upstreams: the base URL is what the official SDK takes
(`https://generativelanguage.googleapis.com`); the gateway appends
`/v1beta/models/{model}:generateContent` (or `:streamGenerateContent?alt=sse`)."""

from __future__ import annotations

from urllib.parse import quote

import orjson

from aisonar.channels.models import Channel, ChannelWithSecret
from aisonar.gateway.wire.gemini.format import GeminiStreamUsage, gemini_body_usage
from aisonar.gateway.wire.gemini.hub_upstream import hub_request_to_gemini
from aisonar.gateway.wire.gemini.hub_upstream_replies import (
    GeminiStreamToHub,
    gemini_response_to_hub,
)
from aisonar.gateway.wire.hub import JsonObject
from aisonar.token_usage import TokenUsage

API_VERSION = "v1beta"


def gemini_headers(channel: ChannelWithSecret) -> dict[str, str]:
    return {
        "x-goog-api-key": channel.api_key,
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
    }


def gemini_method_path(model: str, method: str) -> str:
    """`/v1beta/models/{model}:{method}`, under the public API's base URL."""
    return f"/{API_VERSION}/models/{quote(model, safe='')}:{method}"


def gemini_url(base_url: str, model: str, stream: bool) -> str:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return base_url + gemini_method_path(model, method)


class GeminiProvider:
    name = "gemini"
    prices_client_names = False

    def headers(self, channel: ChannelWithSecret) -> dict[str, str]:
        return gemini_headers(channel)

    def signer(self, channel: ChannelWithSecret) -> None:
        return None

    def url(self, channel: Channel, model: str, stream: bool) -> str:
        return gemini_url(channel.base_url, model, stream)

    def path_url(self, channel: Channel, model: str, path: str) -> str:
        return channel.base_url + path

    def models_url(self, channel: Channel) -> str:
        return channel.base_url + "/v1beta/models"

    def passthrough_body(self, body: bytes) -> bytes:
        return body

    def refused_answer(self, status: int, body: bytes, stream: bool) -> None:
        return None

    def request_from_hub(self, hub: JsonObject) -> bytes:
        return orjson.dumps(hub_request_to_gemini(hub))

    def response_to_hub(self, body: bytes, model: str) -> JsonObject:
        return gemini_response_to_hub(orjson.loads(body), model=model)

    def stream_reader(self, model: str) -> GeminiStreamToHub:
        return GeminiStreamToHub(model)

    def body_usage(self, body: bytes) -> TokenUsage | None:
        return gemini_body_usage(body)

    def stream_usage(self, *, hide_usage_chunk: bool) -> GeminiStreamUsage:
        return GeminiStreamUsage()
