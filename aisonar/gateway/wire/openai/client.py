"""Clients speaking OpenAI chat completions (the `openai` SDK and most tools)."""

from __future__ import annotations

import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.auth import presented_key
from aisonar.gateway.body.duplicate_fields import refuse_duplicate_fields
from aisonar.gateway.body.prompt_bound import prompt_bound
from aisonar.gateway.http import Exchange
from aisonar.gateway.wire.dialect import GenerationRequest, PathTarget
from aisonar.gateway.wire.hub import DROPPED, JsonObject, UnsupportedFeature
from aisonar.gateway.wire.openai.errors import openai_stream_error_event, render_openai_error
from aisonar.gateway.wire.openai.format import parse_chat_request, rewrite_body

_DONE_EVENT = b"data: [DONE]\n\n"


class OpenAIStreamWriter:
    """Hub chunks are OpenAI chunks; only the model name and the unasked usage chunk change."""

    def __init__(self, model: str, wants_usage: bool) -> None:
        self._model = model
        self._wants_usage = wants_usage

    def feed(self, chunk: JsonObject) -> bytes:
        if not chunk.get("choices") and not self._wants_usage:
            return b""
        chunk["model"] = self._model
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def finish(self) -> bytes:
        return _DONE_EVENT


class OpenAIDialect:
    name = "openai"
    sse_comments = True

    def credential(self, exchange: Exchange) -> str | None:
        return presented_key(exchange.header(b"authorization"), exchange.header(b"x-api-key"))

    def parse(self, body: bytes, target: PathTarget | None) -> GenerationRequest:
        request = parse_chat_request(body)
        refuse_duplicate_fields(body)
        return GenerationRequest(
            model=request.model,
            stream=bool(request.stream),
            max_output_tokens=request.output_limit,
            output_field=request.output_field,
            choices=request.n or 1,
            input_bound=prompt_bound(body),
            wants_usage=request.client_wants_usage,
        )

    def passthrough_body(
        self, body: bytes, request: GenerationRequest, model: str, output_limit: int | None
    ) -> bytes:
        force_usage = request.stream and not request.wants_usage
        return rewrite_body(
            body,
            model=model,
            requested_model=request.model,
            force_usage=force_usage,
            output_limit=output_limit,
        )

    def passthrough_headers(self, exchange: Exchange, headers: dict[str, str]) -> dict[str, str]:
        return headers

    def to_hub(self, body: bytes, request: GenerationRequest) -> JsonObject:
        hub: JsonObject = orjson.loads(body)
        if DROPPED in hub:
            # The hub's own bookkeeping: not a field a client may set.
            raise UnsupportedFeature(DROPPED, "this model's provider")
        return hub

    def from_hub(self, hub: JsonObject, model: str) -> bytes:
        return orjson.dumps({**hub, "model": model})

    def stream_writer(self, request: GenerationRequest) -> OpenAIStreamWriter:
        return OpenAIStreamWriter(request.model, request.wants_usage)

    def render_error(self, error: AISonarError, request_id: str) -> bytes:
        return render_openai_error(error)

    def stream_error_event(self, error: AISonarError) -> bytes:
        return openai_stream_error_event(error)
