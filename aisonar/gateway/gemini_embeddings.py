"""Gemini's `:embedContent` and `:batchEmbedContents`, metered and billed like
`/v1/embeddings` (hold, settle, one usage event): passed through to Gemini channels,
translated to OpenAI's embeddings for models on OpenAI channels."""

from __future__ import annotations

from aisonar.gateway.admission import token_estimate
from aisonar.gateway.auth import authenticate
from aisonar.gateway.charging import held
from aisonar.gateway.disconnect import cancel_on_disconnect
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.failover import with_failover
from aisonar.gateway.formats.gemini_embeddings import (
    EmbedRequest,
    from_openai_embeddings,
    gemini_embeddings_usage,
    openai_embeddings_request,
    parse_embed_request,
    with_upstream_model,
)
from aisonar.gateway.formats.prompt_bound import prompt_bound
from aisonar.gateway.http import Exchange
from aisonar.gateway.inbound.gemini import GeminiDialect
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.providers.gemini import gemini_method_url
from aisonar.gateway.relay import relay_json, relay_translated_json
from aisonar.gateway.routing import Route
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.upstream import open_upstream
from aisonar.token_usage import TokenUsage

_DIALECT = GeminiDialect()


def _upstream_request(
    route: Route, request: EmbedRequest, body: bytes, method: str
) -> tuple[str, bytes]:
    """Where the request goes on this route's channel, and what is sent there."""
    model = route.upstream_model
    if route.adapter.name == "gemini":
        url = gemini_method_url(route.base_url, model, method)
        forwarded = with_upstream_model(body, model) if request.names_other_model(model) else body
        return url, forwarded
    if route.adapter.name == "openai":
        return route.url("/embeddings"), openai_embeddings_request(request, model)
    raise InvalidRequest(
        f"`{route.upstream_model}` is served by a {route.provider} channel, which has no"
        " embeddings.",
        param="model",
    )


async def embed(
    services: GatewayServices, exchange: Exchange, meter: RequestMeter, *, model: str, method: str
) -> None:
    """`method` is embedContent or batchEmbedContents."""
    meter.identity = await authenticate(
        services.keys, _DIALECT.credential(exchange), exchange.client_ip
    )
    body = await exchange.read_body(services.max_body_bytes)
    request = parse_embed_request(body, batch=method == "batchEmbedContents")
    meter.requested_model = model
    routes = services.channels.routes(meter.identity, model)
    input_bound = prompt_bound(body)
    admitted = await services.limiter.admit(exchange, meter, token_estimate(input_bound, None))

    async def attempt(route: Route) -> None:
        price = services.billing.price_for(route)
        url, upstream_body = _upstream_request(route, request, body, method)

        def estimate() -> TokenUsage:
            return request.estimate(route.upstream_model)

        def translate(answer: bytes) -> tuple[bytes, TokenUsage]:
            return from_openai_embeddings(request, answer, estimate)

        async with (
            held(services.billing, meter, price, input_bound=input_bound, output_bound=0),
            cancel_on_disconnect(exchange),
            open_upstream(
                services.session, route, url, route.headers, upstream_body, stream=False
            ) as answer,
        ):
            if route.adapter.name == "gemini":
                await relay_json(
                    exchange, answer, meter, gemini_embeddings_usage, lambda _: estimate()
                )
            else:
                await relay_translated_json(exchange, answer, meter, translate)

    try:
        await with_failover(services.failover, exchange, meter, routes, attempt)
    finally:
        await services.limiter.finish(admitted, meter.usage)
