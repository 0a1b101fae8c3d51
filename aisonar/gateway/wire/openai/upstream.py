"""OpenAI and OpenAI-compatible upstreams: the base URL is what the official SDK takes
(`https://api.openai.com/v1`); the gateway appends the endpoint's own path. The hub is
OpenAI's own format, so translation only removes the hub's extensions."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from aisonar.channels.models import Channel, ChannelWithSecret
from aisonar.gateway.errors import UpstreamUnavailable
from aisonar.gateway.sse import event_data
from aisonar.gateway.wire.hub import JsonObject, usage_from_hub
from aisonar.gateway.wire.openai.format import OpenAIStreamUsage, output_limit_field, read_usage
from aisonar.token_usage import TokenUsage

_DONE = b"[DONE]"
# Thinking budgets (tokens) at or below which each reasoning effort is chosen.
_EFFORT_BUDGETS = ((1024, "low"), (8192, "medium"))
_MAX_END_USER = 64


class OpenAIStreamError(UpstreamUnavailable):
    """The upstream ended its stream with an error event."""


def openai_headers(channel: ChannelWithSecret) -> dict[str, str]:
    """Built once per channel, not per request."""
    return {
        "Authorization": f"Bearer {channel.api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "Accept-Encoding": "identity",
    }


def _effort(budget: int) -> str:
    for most, effort in _EFFORT_BUDGETS:
        if budget <= most:
            return effort
    return "high"


def _without_reasoning(message: Any) -> Any:
    if isinstance(message, dict) and "reasoning_content" in message:
        return {name: value for name, value in message.items() if name != "reasoning_content"}
    return message


def _image_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url"


def _tool_results_with_images(messages: list[Any]) -> list[Any]:
    """OpenAI's `tool` messages carry text only: the images of a run of tool results move
    to one user message right after it, where the model sees them."""
    sent: list[Any] = []
    images: list[Any] = []
    for message in messages:
        is_tool = isinstance(message, dict) and message.get("role") == "tool"
        if images and not is_tool:
            sent.append({"role": "user", "content": images})
            images = []
        content = message.get("content") if is_tool else None
        if isinstance(content, list) and any(_image_part(part) for part in content):
            images.extend(part for part in content if _image_part(part))
            texts = [part for part in content if not _image_part(part)]
            message = {**message, "content": texts or "The result is the image that follows."}
        sent.append(message)
    if images:
        sent.append({"role": "user", "content": images})
    return sent


def _end_user(value: Any) -> Any:
    """OpenAI takes an end-user id of at most 64 characters (Claude Code's `user_id` is a
    JSON document about 150 long): a longer one is sent as its SHA-256, which identifies
    the same user as steadily, and is what OpenAI recommends sending anyway."""
    if isinstance(value, str) and len(value) > _MAX_END_USER:
        return hashlib.sha256(value.encode()).hexdigest()
    return value


def openai_request_from_hub(hub: JsonObject) -> JsonObject:
    """The hub request minus the hub's extensions; streams always ask for usage."""
    request = {name: value for name, value in hub.items() if name != "thinking_budget"}
    budget = hub.get("thinking_budget")
    if isinstance(budget, int) and "reasoning_effort" not in request:
        request["reasoning_effort"] = _effort(budget)
    for name in ("user", "safety_identifier"):
        if name in request:
            request[name] = _end_user(request[name])
    messages = [_without_reasoning(m) for m in hub.get("messages") or []]
    request["messages"] = _tool_results_with_images(messages)
    if "max_tokens" in request:
        request[output_limit_field(str(request.get("model")))] = request.pop("max_tokens")
    if request.get("stream"):
        options = request.get("stream_options")
        request["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    return request


class OpenAIStreamToHub:
    """OpenAI's chunks are hub chunks already; read them and their usage."""

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None

    def feed(self, event: bytes) -> list[JsonObject]:
        data = event_data(event)
        if not data or data == _DONE:
            return []
        chunk = orjson.loads(data)
        if not isinstance(chunk, dict):
            return []
        if isinstance(chunk.get("error"), dict):
            message = chunk["error"].get("message") or "The upstream stream failed."
            raise OpenAIStreamError(f"The upstream provider failed mid-stream: {message}")
        if isinstance(chunk.get("usage"), dict):
            self.usage = usage_from_hub(chunk["usage"])
        return [chunk]

    def finish(self) -> list[JsonObject]:
        return []


class OpenAIProvider:
    name = "openai"
    prices_client_names = False

    def headers(self, channel: ChannelWithSecret) -> dict[str, str]:
        return openai_headers(channel)

    def signer(self, channel: ChannelWithSecret) -> None:
        return None

    def url(self, channel: Channel, model: str, stream: bool) -> str:
        return channel.base_url + "/chat/completions"

    def path_url(self, channel: Channel, model: str, path: str) -> str:
        return channel.base_url + path

    def models_url(self, channel: Channel) -> str:
        return channel.base_url + "/models"

    def passthrough_body(self, body: bytes) -> bytes:
        return body

    def refused_answer(self, status: int, body: bytes, stream: bool) -> None:
        return None

    def request_from_hub(self, hub: JsonObject) -> bytes:
        return orjson.dumps(openai_request_from_hub(hub))

    def response_to_hub(self, body: bytes, model: str) -> JsonObject:
        document: JsonObject = orjson.loads(body)
        return document

    def stream_reader(self, model: str) -> OpenAIStreamToHub:
        return OpenAIStreamToHub()

    def body_usage(self, body: bytes) -> TokenUsage | None:
        return read_usage(body).usage

    def stream_usage(self, *, hide_usage_chunk: bool) -> OpenAIStreamUsage:
        return OpenAIStreamUsage(hide_usage_chunk=hide_usage_chunk)
