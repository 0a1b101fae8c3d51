"""OpenAI and OpenAI-compatible upstreams: the base URL is what the official SDK takes
(`https://api.openai.com/v1`); the gateway appends the endpoint's own path. The hub is
OpenAI's own format, so translation only removes the hub's extensions. A channel of a
named host (channels/presets.py) gets an adapter of its own, for the host's departures
from OpenAI's API: no key, no `stream_options`, reasoning counted beside the output."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from aisonar.channels.models import Channel, ChannelWithSecret
from aisonar.channels.presets import Preset
from aisonar.gateway.body.output_limit import output_limit_field
from aisonar.gateway.errors import UpstreamUnavailable
from aisonar.gateway.sse import event_data
from aisonar.gateway.wire.hub import JsonObject, hub_usage
from aisonar.gateway.wire.openai.format import OpenAIStreamUsage, read_usage, usage_of_object
from aisonar.token_usage import TokenUsage

_DONE = b"[DONE]"
# Thinking budgets (tokens) at or below which each reasoning effort is chosen.
_EFFORT_BUDGETS = ((1024, "low"), (8192, "medium"))
_MAX_END_USER = 64


class OpenAIStreamError(UpstreamUnavailable):
    """The upstream ended its stream with an error event."""


def openai_headers(channel: ChannelWithSecret) -> dict[str, str]:
    """Built once per channel, not per request; no key, no `Authorization` (a server that
    checks none, as Ollama and vLLM may)."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "Accept-Encoding": "identity",
    }
    if channel.api_key:
        headers["Authorization"] = f"Bearer {channel.api_key}"
    return headers


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


def openai_request_from_hub(hub: JsonObject, *, stream_options: bool = True) -> JsonObject:
    """The hub request minus the hub's extensions; streams always ask for usage, of a host
    that takes `stream_options`."""
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
    if not stream_options:
        request.pop("stream_options", None)
    elif request.get("stream"):
        options = request.get("stream_options")
        request["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    return request


def _normalize_usage(document: JsonObject, reasoning_beside: bool) -> TokenUsage | None:
    """The document's usage, read in the host's fields and written back in the hub's (so
    that a client of another format is told the tokens it is charged for)."""
    usage = document.get("usage")
    if isinstance(usage, dict):
        tokens = usage_of_object(usage, reasoning_beside=reasoning_beside)
        if tokens is not None:
            document["usage"] = hub_usage(tokens)
        return tokens
    extras = document.get("x_groq")
    if isinstance(extras, dict) and isinstance(extras.get("usage"), dict):
        return usage_of_object(extras["usage"], reasoning_beside=reasoning_beside)
    return None


class OpenAIStreamToHub:
    """OpenAI's chunks are hub chunks already; read them and their usage."""

    def __init__(self, *, reasoning_beside: bool = False) -> None:
        self.usage: TokenUsage | None = None
        self._reasoning_beside = reasoning_beside

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
        usage = _normalize_usage(chunk, self._reasoning_beside)
        if usage is not None:
            self.usage = usage
        return [chunk]

    def finish(self) -> list[JsonObject]:
        return []


_STREAM_OPTIONS = b'"stream_options"'


class OpenAIProvider:
    name = "openai"
    prices_client_names = False

    def __init__(self, preset: Preset | None = None) -> None:
        self._stream_options = preset is None or preset.takes_stream_options
        self._reasoning_beside = preset is not None and preset.reasoning_beside_completion

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
        if self._stream_options or _STREAM_OPTIONS not in body:
            return body
        document = orjson.loads(body)
        document.pop("stream_options", None)
        return orjson.dumps(document)

    def refused_answer(self, status: int, body: bytes, stream: bool) -> None:
        return None

    def request_from_hub(self, hub: JsonObject) -> bytes:
        return orjson.dumps(openai_request_from_hub(hub, stream_options=self._stream_options))

    def response_to_hub(self, body: bytes, model: str) -> JsonObject:
        document: JsonObject = orjson.loads(body)
        _normalize_usage(document, self._reasoning_beside)
        return document

    def stream_reader(self, model: str) -> OpenAIStreamToHub:
        return OpenAIStreamToHub(reasoning_beside=self._reasoning_beside)

    def body_usage(self, body: bytes) -> TokenUsage | None:
        return read_usage(body, reasoning_beside=self._reasoning_beside).usage

    def stream_usage(self, *, hide_usage_chunk: bool) -> OpenAIStreamUsage:
        return OpenAIStreamUsage(
            hide_usage_chunk=hide_usage_chunk, reasoning_beside=self._reasoning_beside
        )
