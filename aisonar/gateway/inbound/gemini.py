"""Clients speaking Gemini generateContent (the `google-genai` SDK). The model and whether
to stream come from the URL; the key comes in `x-goog-api-key` or the `key` query parameter."""

from __future__ import annotations

from urllib.parse import parse_qs

import msgspec
import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.formats.gemini import gemini_stream_error_event, render_gemini_error
from aisonar.gateway.http import Exchange
from aisonar.gateway.inbound.dialect import GenerationRequest, PathTarget
from aisonar.gateway.translate.gemini_answers import HubToGeminiStream, hub_response_to_gemini
from aisonar.gateway.translate.gemini_inbound import gemini_request_to_hub
from aisonar.gateway.translate.hub import JsonObject


class _GenerationConfig(msgspec.Struct):
    maxOutputTokens: int | None = None
    candidateCount: int | None = None


class _GenerateRequest(msgspec.Struct):
    contents: msgspec.Raw
    generationConfig: _GenerationConfig | None = None


_decoder = msgspec.json.Decoder(_GenerateRequest)


def query_parameter(exchange: Exchange, name: str) -> str | None:
    query: bytes = exchange.scope.get("query_string", b"")
    values = parse_qs(query.decode("latin-1")).get(name) if query else None
    return values[0] if values else None


class GeminiDialect:
    name = "gemini"

    def credential(self, exchange: Exchange) -> str | None:
        return exchange.header(b"x-goog-api-key") or query_parameter(exchange, "key")

    def parse(self, body: bytes, target: PathTarget | None) -> GenerationRequest:
        assert target is not None, "Gemini requests name their model in the URL"
        try:
            request = _decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise InvalidRequest(f"Invalid request body: {error}") from None
        config = request.generationConfig or _GenerationConfig()
        if config.candidateCount is not None and config.candidateCount < 1:
            raise InvalidRequest("candidateCount must be at least 1", param="candidateCount")
        return GenerationRequest(
            model=target.model,
            stream=target.stream,
            max_output_tokens=config.maxOutputTokens,
            choices=config.candidateCount or 1,
            input_bound=len(body),
        )

    def passthrough_body(self, body: bytes, request: GenerationRequest, model: str) -> bytes:
        return body

    def passthrough_headers(self, exchange: Exchange, headers: dict[str, str]) -> dict[str, str]:
        return headers

    def to_hub(self, body: bytes, request: GenerationRequest) -> JsonObject:
        return gemini_request_to_hub(orjson.loads(body), model=request.model, stream=request.stream)

    def from_hub(self, hub: JsonObject, model: str) -> bytes:
        return orjson.dumps(hub_response_to_gemini(hub, model))

    def stream_writer(self, request: GenerationRequest) -> HubToGeminiStream:
        return HubToGeminiStream(request.model)

    def render_error(self, error: AISonarError, request_id: str) -> bytes:
        return render_gemini_error(error)

    def stream_error_event(self, error: AISonarError) -> bytes:
        return gemini_stream_error_event(error)
