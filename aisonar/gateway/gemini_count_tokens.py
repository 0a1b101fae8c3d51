"""Gemini's `:countTokens`: asked of Gemini channels, counted offline for the others. Free,
as at Google, so neither held nor charged (see `token_count` for Anthropic's)."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from aisonar.gateway.auth import authenticate
from aisonar.gateway.body.errors import invalid_body
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.estimate import TokenEstimator
from aisonar.gateway.http import JSON_CONTENT_TYPE, Exchange
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.upstream import open_upstream
from aisonar.gateway.wire.gemini.client import GeminiDialect
from aisonar.gateway.wire.gemini.hub_client import gemini_request_to_hub
from aisonar.gateway.wire.gemini.upstream import gemini_method_path

_DIALECT = GeminiDialect()


class _CountRequest(msgspec.Struct):
    # Either the contents alone, or a whole generateContent request (either spelling).
    contents: list[Any] | None = None
    generateContentRequest: dict[str, Any] | None = None
    generate_content_request: dict[str, Any] | None = None


def _counted(body: bytes) -> tuple[dict[str, Any], str | None]:
    """The generateContent request whose prompt is counted, and the field that holds it."""
    try:
        request = msgspec.json.decode(body, type=_CountRequest)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise invalid_body(error) from None
    given = [
        (value, name)
        for value, name in (
            (request.generateContentRequest, "generateContentRequest"),
            (request.generate_content_request, "generate_content_request"),
        )
        if value is not None
    ]
    if len(given) + (request.contents is not None) != 1:
        raise InvalidRequest(
            "Send either `contents` or `generateContentRequest`, exactly one of them.",
            param="contents",
        )
    if given:
        return given[0]
    return {"contents": request.contents}, None


def _with_model(body: bytes, field: str | None, model: str) -> bytes:
    """A whole generateContent request names its model, which must be the upstream's."""
    if field is None:
        return body
    document = orjson.loads(body)
    if "model" not in document[field]:
        return body
    document[field]["model"] = f"models/{model}"
    return orjson.dumps(document)


async def count_tokens(services: GatewayServices, exchange: Exchange, *, model: str) -> None:
    identity = await authenticate(services.keys, _DIALECT.credential(exchange), exchange.client_ip)
    body = await exchange.read_body(services.max_body_bytes)
    counted, field = _counted(body)
    route = services.channels.routes(identity, model)[0]
    upstream = route.upstream_model
    if route.adapter.name == _DIALECT.name:
        url = route.url(gemini_method_path(upstream, "countTokens"))
        upstream_body = _with_model(body, field, upstream)
        async with open_upstream(
            services.session, route, url, route.headers, upstream_body, stream=False
        ) as answer:
            await exchange.respond(200, answer.first, JSON_CONTENT_TYPE)
        return
    hub = gemini_request_to_hub(counted, model=upstream, stream=False)
    tokens = TokenEstimator(route.adapter, upstream, body, lambda: hub).input_tokens()
    await exchange.respond(200, orjson.dumps({"totalTokens": tokens}))
