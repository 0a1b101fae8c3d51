"""Clients speaking Gemini generateContent (the `google-genai` SDK). The model and whether
to stream come from the URL; the key comes in `x-goog-api-key` or the `key` query parameter."""

from __future__ import annotations

from urllib.parse import parse_qs

import msgspec
import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.body.duplicate_fields import DuplicateField, refuse_duplicate_fields
from aisonar.gateway.body.errors import invalid_body
from aisonar.gateway.body.output_limit import GeminiCandidates, OutputTokens
from aisonar.gateway.body.prompt_bound import prompt_bound
from aisonar.gateway.http import Exchange
from aisonar.gateway.wire.dialect import GenerationRequest, PathTarget
from aisonar.gateway.wire.gemini.format import gemini_stream_error_event, render_gemini_error
from aisonar.gateway.wire.gemini.hub_client import gemini_request_to_hub
from aisonar.gateway.wire.gemini.hub_client_answers import HubToGeminiStream, hub_response_to_gemini
from aisonar.gateway.wire.hub import JsonObject


class _GenerationConfig(msgspec.Struct):
    # Google's JSON parser takes each field in camelCase or in snake_case.
    maxOutputTokens: OutputTokens | None = None
    max_output_tokens: OutputTokens | None = None
    candidateCount: GeminiCandidates | None = None
    candidate_count: GeminiCandidates | None = None


class _GenerateRequest(msgspec.Struct):
    contents: msgspec.Raw
    generationConfig: _GenerationConfig | None = None
    generation_config: _GenerationConfig | None = None


_OUTPUT_FIELD = "generationConfig.maxOutputTokens"


def _one_of(first: int | None, second: int | None, name: str) -> int | None:
    """A field sent once, in either spelling: both would leave the upstream to choose."""
    if first is not None and second is not None:
        raise DuplicateField(name)
    return first if first is not None else second


def _config(request: _GenerateRequest) -> _GenerationConfig:
    if request.generationConfig is not None and request.generation_config is not None:
        raise DuplicateField("generationConfig")
    return request.generationConfig or request.generation_config or _GenerationConfig()


def _with_output_limit(body: bytes, output_limit: int) -> bytes:
    document = orjson.loads(body)
    config = document.get("generationConfig") or document.get("generation_config")
    if isinstance(config, dict):
        config["maxOutputTokens"] = output_limit
    else:
        document["generationConfig"] = {"maxOutputTokens": output_limit}
    return orjson.dumps(document)


_decoder = msgspec.json.Decoder(_GenerateRequest)


def query_parameter(exchange: Exchange, name: str) -> str | None:
    query: bytes = exchange.scope.get("query_string", b"")
    values = parse_qs(query.decode("latin-1")).get(name) if query else None
    return values[0] if values else None


class GeminiDialect:
    name = "gemini"
    sse_comments = False

    def credential(self, exchange: Exchange) -> str | None:
        return exchange.header(b"x-goog-api-key") or query_parameter(exchange, "key")

    def parse(self, body: bytes, target: PathTarget | None) -> GenerationRequest:
        assert target is not None, "Gemini requests name their model in the URL"
        try:
            request = _decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise invalid_body(error) from None
        refuse_duplicate_fields(body)
        config = _config(request)
        max_output = _one_of(config.maxOutputTokens, config.max_output_tokens, _OUTPUT_FIELD)
        candidates = _one_of(
            config.candidateCount, config.candidate_count, "generationConfig.candidateCount"
        )
        return GenerationRequest(
            model=target.model,
            stream=target.stream,
            max_output_tokens=max_output,
            output_field=_OUTPUT_FIELD,
            choices=candidates or 1,
            input_bound=prompt_bound(body),
        )

    def passthrough_body(
        self, body: bytes, request: GenerationRequest, model: str, output_limit: int | None
    ) -> bytes:
        return body if output_limit is None else _with_output_limit(body, output_limit)

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
