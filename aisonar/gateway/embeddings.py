"""OpenAI's `/v1/embeddings` as the pipeline serves it: passed through to OpenAI channels,
translated to `batchEmbedContents` for Gemini's; no other provider has embeddings."""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson

from aisonar.gateway.admission import token_estimate
from aisonar.gateway.auth import presented_key
from aisonar.gateway.endpoint import OPENAI
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.http import Exchange
from aisonar.gateway.pipeline import Forward, Leg
from aisonar.gateway.relay import relay_json, relay_translated_json
from aisonar.gateway.routing import Route
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.wire.gemini.embeddings_from_openai import GeminiEmbeddings
from aisonar.gateway.wire.gemini.upstream import gemini_method_path
from aisonar.gateway.wire.openai.format import (
    EmbeddingsRequest,
    parse_embeddings_request,
    read_usage,
    rewrite_body,
)
from aisonar.token_usage import TokenUsage
from aisonar.usage.tokens import count_text_tokens


class Embeddings:
    """The `/v1/embeddings` endpoint."""

    dialect = OPENAI

    def credential(self, exchange: Exchange) -> str | None:
        return presented_key(exchange.header(b"authorization"), exchange.header(b"x-api-key"))

    def read(self, body: bytes) -> EmbeddingsCall:
        return EmbeddingsCall(body, parse_embeddings_request(body))


class EmbeddingsCall:
    """One embeddings request."""

    __slots__ = ("_body", "_request", "model", "token_estimate")
    stream = False

    def __init__(self, body: bytes, request: EmbeddingsRequest) -> None:
        self._body = body
        self._request = request
        self.model = request.model
        self.token_estimate = token_estimate(len(request.input), None)

    def leg(self, services: GatewayServices, exchange: Exchange, route: Route) -> Leg:
        body, request = self._body, self._request
        price = services.billing.price_for(route)
        model = route.upstream_model
        gemini = GeminiEmbeddings(body, request.model) if route.adapter.name == "gemini" else None
        if gemini is not None:
            url = route.url(gemini_method_path(model, "batchEmbedContents"))
            upstream_body = gemini.request(model)
        elif route.adapter.name == "openai":
            url = route.url("/embeddings")
            upstream_body = rewrite_body(
                body, model=model, requested_model=request.model, force_usage=False
            )
        else:
            raise InvalidRequest(
                f"`{request.model}` is served by a {route.provider} channel, which has no"
                " embeddings.",
                param="model",
            )

        def estimate(_: bytes = b"") -> TokenUsage:
            inputs: Any = orjson.loads(bytes(request.input))
            texts = [inputs] if isinstance(inputs, str) else [str(item) for item in inputs]
            tokens = sum(count_text_tokens(text, model) for text in texts)
            return TokenUsage(input_tokens=tokens, estimated=True)

        forward: Forward
        if gemini is None:
            forward = partial(relay_json, usage_of=_usage_of, estimate=estimate)
        else:
            forward = partial(
                relay_translated_json, translate=partial(gemini.answer, estimate=estimate)
            )
        return Leg(price, len(request.input), 0, url, route.headers, upstream_body, forward)


def _usage_of(body: bytes) -> TokenUsage | None:
    return read_usage(body).usage
