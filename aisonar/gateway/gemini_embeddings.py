"""Gemini's `:embedContent` and `:batchEmbedContents`, metered and billed like
`/v1/embeddings` (hold, settle, one usage event): passed through to Gemini channels,
translated to OpenAI's embeddings for models on OpenAI channels."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from aisonar.gateway.admission import token_estimate
from aisonar.gateway.body.prompt_bound import prompt_bound
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.http import Exchange
from aisonar.gateway.pipeline import Forward, Leg
from aisonar.gateway.relay import relay_json, relay_translated_json
from aisonar.gateway.routing import Route
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.wire.dialect import Dialect
from aisonar.gateway.wire.gemini.client import GeminiDialect
from aisonar.gateway.wire.gemini.embeddings import (
    EmbedRequest,
    from_openai_embeddings,
    gemini_embeddings_usage,
    openai_embeddings_request,
    parse_embed_request,
    with_upstream_model,
)
from aisonar.gateway.wire.gemini.upstream import gemini_method_path
from aisonar.token_usage import TokenUsage

_DIALECT = GeminiDialect()


def _upstream_request(
    route: Route, request: EmbedRequest, body: bytes, method: str
) -> tuple[str, bytes]:
    """Where the request goes on this route's channel, and what is sent there."""
    model = route.upstream_model
    if route.adapter.name == "gemini":
        url = route.url(gemini_method_path(model, method))
        forwarded = with_upstream_model(body, model) if request.names_other_model(model) else body
        return url, forwarded
    if route.adapter.name == "openai":
        return route.url("/embeddings"), openai_embeddings_request(request, model)
    raise InvalidRequest(
        f"`{route.upstream_model}` is served by a {route.provider} channel, which has no"
        " embeddings.",
        param="model",
    )


@dataclass(frozen=True, slots=True)
class GeminiEmbed:
    """`.../models/{model}:embedContent` or `:batchEmbedContents` (`method`)."""

    model: str
    method: str
    dialect: Dialect = _DIALECT

    def credential(self, exchange: Exchange) -> str | None:
        return _DIALECT.credential(exchange)

    def read(self, body: bytes) -> EmbedCall:
        request = parse_embed_request(body, batch=self.method == "batchEmbedContents")
        return EmbedCall(self.model, self.method, body, request)


class EmbedCall:
    """One embedding request in Gemini's format."""

    __slots__ = ("_body", "_input_bound", "_method", "_request", "model", "token_estimate")
    stream = False

    def __init__(self, model: str, method: str, body: bytes, request: EmbedRequest) -> None:
        self.model = model
        self._method = method
        self._body = body
        self._request = request
        self._input_bound = prompt_bound(body)
        self.token_estimate = token_estimate(self._input_bound, None)

    def leg(self, services: GatewayServices, exchange: Exchange, route: Route) -> Leg:
        request = self._request
        price = services.billing.price_for(route)
        url, upstream_body = _upstream_request(route, request, self._body, self._method)

        def estimate() -> TokenUsage:
            return request.estimate(route.upstream_model)

        def translate(answer: bytes) -> tuple[bytes, TokenUsage]:
            return from_openai_embeddings(request, answer, estimate)

        forward: Forward
        if route.adapter.name == "gemini":
            forward = partial(
                relay_json, usage_of=gemini_embeddings_usage, estimate=lambda _: estimate()
            )
        else:
            forward = partial(relay_translated_json, translate=translate)
        return Leg(price, self._input_bound, 0, url, route.headers, upstream_body, forward)
