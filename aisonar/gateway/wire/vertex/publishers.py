"""Vertex AI's model paths, per publisher.

`https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}
/publishers/{publisher}/models/{model}:{method}` (host `aiplatform.googleapis.com` for the
`global` location; the channel's base URL is that host, made from the location unless given).
Gemini models are Google's (`:generateContent`, `:streamGenerateContent?alt=sse`, the bodies
of the Gemini API); Claude models Anthropic's (`:rawPredict`, `:streamRawPredict`, the bodies
of Anthropic's Messages API without `model`, which the path names, and with
`anthropic_version: vertex-2023-10-16` in the body instead of the `anthropic-version` header).
A model belongs to Anthropic when its name starts with `claude-` (as Vertex names them:
`claude-sonnet-4-5@20250929`), to Google otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import orjson

from aisonar.channels.models import Channel
from aisonar.gateway.errors import InvalidRequest

API_VERSION = "v1"
ANTHROPIC_VERSION = "vertex-2023-10-16"
CLAUDE_PREFIX = "claude-"
# Anthropic's token counting on Vertex: one model path for every Claude, the body names it.
_CLAUDE_COUNT_MODEL = "count-tokens"


def location_path(channel: Channel) -> str:
    """`{base}/v1/projects/{project}/locations/{location}`: the channel's place on Vertex."""
    options = channel.options
    project, location = quote(options["project"], safe=""), quote(options["location"], safe="")
    return f"{channel.base_url}/{API_VERSION}/projects/{project}/locations/{location}"


def is_claude(model: str) -> bool:
    return model.startswith(CLAUDE_PREFIX)


@dataclass(frozen=True)
class Publisher:
    """A publisher's models on Vertex: its name in the path, its methods, the paths of the
    format's other endpoints it serves, and how a body of the format becomes Vertex's."""

    name: str
    method: str
    stream_method: str
    # A format's public path, by its last part, -> (model in the Vertex path, method).
    others: dict[str, tuple[str | None, str]]

    def model_url(self, channel: Channel, model: str, method: str) -> str:
        model_path = f"publishers/{self.name}/models/{quote(model, safe='@')}"
        return f"{location_path(channel)}/{model_path}:{method}"

    def url(self, channel: Channel, model: str, stream: bool) -> str:
        return self.model_url(channel, model, self.stream_method if stream else self.method)

    def path_url(self, channel: Channel, model: str, path: str) -> str:
        """Where one of the format's other endpoints (`path`, under its public API) is."""
        found = next((found for end, found in self.others.items() if path.endswith(end)), None)
        if found is None:
            raise InvalidRequest(
                f"`{model}` is served by a Vertex AI channel, which has no `{path}`.",
                param="model",
            )
        own_model, method = found
        return self.model_url(channel, own_model or model, method)

    def body(self, body: bytes) -> bytes:
        """A request body of the format, as Vertex takes it."""
        return body


class AnthropicPublisher(Publisher):
    def body(self, body: bytes) -> bytes:
        document = orjson.loads(body)
        document.pop("model", None)
        document.setdefault("anthropic_version", ANTHROPIC_VERSION)
        return orjson.dumps(document)


GOOGLE = Publisher(
    "google",
    "generateContent",
    "streamGenerateContent?alt=sse",
    {":countTokens": (None, "countTokens")},
)
ANTHROPIC = AnthropicPublisher(
    "anthropic",
    "rawPredict",
    "streamRawPredict",
    {"/v1/messages/count_tokens": (_CLAUDE_COUNT_MODEL, "rawPredict")},
)


def publisher_of(model: str) -> Publisher:
    return ANTHROPIC if is_claude(model) else GOOGLE
