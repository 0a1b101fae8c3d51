"""Clients speaking Anthropic Messages (the `anthropic` SDK, Claude Code). The key comes in
`x-api-key` or as a Bearer token; `anthropic-version` and `anthropic-beta` are passed on."""

from __future__ import annotations

import msgspec
import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.auth import presented_key
from aisonar.gateway.body.duplicate_fields import refuse_duplicate_fields
from aisonar.gateway.body.errors import invalid_body
from aisonar.gateway.body.output_limit import OutputTokens
from aisonar.gateway.body.prompt_bound import prompt_bound
from aisonar.gateway.http import Exchange
from aisonar.gateway.wire.anthropic.format import (
    anthropic_stream_error_event,
    render_anthropic_error,
)
from aisonar.gateway.wire.anthropic.hub_client import (
    HubToAnthropicStream,
    anthropic_request_to_hub,
    hub_response_to_anthropic,
)
from aisonar.gateway.wire.dialect import GenerationRequest, PathTarget
from aisonar.gateway.wire.hub import JsonObject

_PASSED_HEADERS = (b"anthropic-version", b"anthropic-beta")


class _MessagesRequest(msgspec.Struct):
    model: str
    messages: msgspec.Raw
    max_tokens: OutputTokens
    stream: bool | None = False


_decoder = msgspec.json.Decoder(_MessagesRequest)


def parse_messages_request(body: bytes) -> _MessagesRequest:
    try:
        request = _decoder.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise invalid_body(error) from None
    refuse_duplicate_fields(body)
    return request


class AnthropicDialect:
    name = "anthropic"
    sse_comments = True

    def credential(self, exchange: Exchange) -> str | None:
        return presented_key(exchange.header(b"authorization"), exchange.header(b"x-api-key"))

    def parse(self, body: bytes, target: PathTarget | None) -> GenerationRequest:
        request = parse_messages_request(body)
        return GenerationRequest(
            model=request.model,
            stream=bool(request.stream),
            max_output_tokens=request.max_tokens,
            output_field="max_tokens",
            choices=1,
            input_bound=prompt_bound(body),
        )

    def passthrough_body(
        self, body: bytes, request: GenerationRequest, model: str, output_limit: int | None
    ) -> bytes:
        # Anthropic requires `max_tokens`, so there is never a limit to add.
        if model == request.model:
            return body
        return orjson.dumps({**orjson.loads(body), "model": model})

    def passthrough_headers(self, exchange: Exchange, headers: dict[str, str]) -> dict[str, str]:
        passed = {
            name.decode(): value.decode("latin-1")
            for name in _PASSED_HEADERS
            if (value := exchange.headers.get(name)) is not None
        }
        return {**headers, **passed} if passed else headers

    def to_hub(self, body: bytes, request: GenerationRequest) -> JsonObject:
        return anthropic_request_to_hub(orjson.loads(body))

    def from_hub(self, hub: JsonObject, model: str) -> bytes:
        return orjson.dumps(hub_response_to_anthropic(hub, model))

    def stream_writer(self, request: GenerationRequest) -> HubToAnthropicStream:
        return HubToAnthropicStream(request.model)

    def render_error(self, error: AISonarError, request_id: str) -> bytes:
        return render_anthropic_error(error, request_id)

    def stream_error_event(self, error: AISonarError) -> bytes:
        return anthropic_stream_error_event(error)
