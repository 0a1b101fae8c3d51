"""Anthropic's `POST /v1/messages/count_tokens`: asked of Anthropic channels, counted offline
for the others. Free, as at Anthropic, so neither held nor charged."""

from __future__ import annotations

import msgspec
import orjson

from aisonar.gateway.auth import authenticate
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.estimate import TokenEstimator
from aisonar.gateway.http import JSON_CONTENT_TYPE, Exchange
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.upstream import open_upstream
from aisonar.gateway.wire.anthropic.client import AnthropicDialect
from aisonar.gateway.wire.anthropic.hub_client import anthropic_request_to_hub
from aisonar.gateway.wire.hub import JsonObject

_COUNT_PATH = "/v1/messages/count_tokens"
_DIALECT = AnthropicDialect()


class _CountRequest(msgspec.Struct):
    model: str
    messages: msgspec.Raw


def _parse(body: bytes) -> tuple[_CountRequest, JsonObject]:
    try:
        request = msgspec.json.decode(body, type=_CountRequest)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise InvalidRequest(f"Invalid request body: {error}") from None
    return request, orjson.loads(body)


async def count_tokens(services: GatewayServices, exchange: Exchange) -> None:
    identity = await authenticate(services.keys, _DIALECT.credential(exchange), exchange.client_ip)
    body = await exchange.read_body(services.max_body_bytes)
    request, document = _parse(body)
    route = services.channels.routes(identity, request.model)[0]
    model = route.upstream_model
    if route.adapter.name == _DIALECT.name:
        upstream_body = (
            body if model == request.model else orjson.dumps({**document, "model": model})
        )
        headers = _DIALECT.passthrough_headers(exchange, route.headers)
        url = route.url(_COUNT_PATH)
        async with open_upstream(
            services.session, route, url, headers, upstream_body, stream=False
        ) as answer:
            await exchange.respond(200, answer.first, JSON_CONTENT_TYPE)
        return
    # Messages need max_tokens, counting does not: any value will do for the translation.
    hub = anthropic_request_to_hub({**document, "max_tokens": 1})
    tokens = TokenEstimator(route.adapter, model, body, lambda: hub).input_tokens()
    await exchange.respond(200, orjson.dumps({"input_tokens": tokens}))
