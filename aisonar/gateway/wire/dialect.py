"""The shape of an inbound dialect: how a client in one wire format is authenticated,
read, answered and told about errors; with the writer of its streams it hands the relay
(`HubWriter`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aisonar.errors import AISonarError
from aisonar.gateway.http import Exchange
from aisonar.gateway.wire.hub import JsonObject


class HubWriter(Protocol):
    """Turns hub chunks into stream events in the client's format."""

    def feed(self, chunk: JsonObject) -> bytes: ...

    def finish(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class PathTarget:
    """What the URL says about a request, for formats that put it there (Gemini)."""

    model: str
    stream: bool


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """The few facts of a generation request that routing and holding need."""

    model: str
    stream: bool
    # The client's limit on output tokens, and the field it sent it in.
    max_output_tokens: int | None
    output_field: str
    choices: int
    # The most tokens the prompt can bill (see `formats.prompt_bound`).
    input_bound: int
    # OpenAI streams: whether the client itself asked for the usage chunk.
    wants_usage: bool = True


class Dialect(Protocol):
    name: str
    # Whether its clients' SDKs skip SSE comment lines (as the SSE spec says), so that a
    # stream may end with one (its cost); google-genai reads every line as JSON.
    sse_comments: bool

    def credential(self, exchange: Exchange) -> str | None: ...

    def parse(self, body: bytes, target: PathTarget | None) -> GenerationRequest: ...

    def passthrough_body(
        self, body: bytes, request: GenerationRequest, model: str, output_limit: int | None
    ) -> bytes:
        """The client's bytes for an upstream of the same format, with the upstream's model,
        and `output_limit` added when the client set none."""
        ...

    def passthrough_headers(self, exchange: Exchange, headers: dict[str, str]) -> dict[str, str]:
        """The channel's headers plus what the client sends that its provider must see."""
        ...

    def to_hub(self, body: bytes, request: GenerationRequest) -> JsonObject: ...

    def from_hub(self, hub: JsonObject, model: str) -> bytes: ...

    def stream_writer(self, request: GenerationRequest) -> HubWriter: ...

    def render_error(self, error: AISonarError, request_id: str) -> bytes: ...

    def stream_error_event(self, error: AISonarError) -> bytes: ...
