"""The hot path, top to bottom: authenticate -> route -> hold -> forward -> settle ->
record, with hold to settle once per attempt when a channel fails over. (Admit joins
here with rate limits.)

A request whose format is the upstream's own is passed through byte for byte (only the
model name may change); any other is translated through the hub, both ways."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.output_limits import model_reasons
from aisonar.gateway.admission import token_estimate
from aisonar.gateway.auth import authenticate, presented_key
from aisonar.gateway.charging import held
from aisonar.gateway.disconnect import cancel_on_disconnect
from aisonar.gateway.errors import ClientDisconnected, InvalidRequest
from aisonar.gateway.estimate import TokenEstimator
from aisonar.gateway.failover import with_failover
from aisonar.gateway.formats.openai import parse_embeddings_request, read_usage, rewrite_body
from aisonar.gateway.formats.openai_embeddings_to_gemini import GeminiEmbeddings
from aisonar.gateway.http import Exchange
from aisonar.gateway.inbound.dialect import Dialect, GenerationRequest, PathTarget
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.providers.gemini import gemini_method_url
from aisonar.gateway.relay import (
    relay_json,
    relay_stream,
    relay_translated_json,
    relay_translated_stream,
)
from aisonar.gateway.routing import Route
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.translate.delivery import drop_for_target, show_dropped_fields
from aisonar.gateway.translate.hub import (
    JsonObject,
    hub_usage,
    usage_from_hub,
    with_output_limit,
)
from aisonar.gateway.upstream import open_upstream
from aisonar.token_usage import TokenUsage
from aisonar.usage.tokens import count_text_tokens


async def authenticate_exchange(
    services: GatewayServices, exchange: Exchange, *, reporting: bool = False
) -> KeyIdentity:
    secret = presented_key(exchange.header(b"authorization"), exchange.header(b"x-api-key"))
    return await authenticate(services.keys, secret, exchange.client_ip, reporting=reporting)


class abandoned_as:
    """A request abandoned before anything came back (its client left, or a shutdown's
    deadline cut it off) is charged its prompt, flagged estimated: the upstream read it,
    and may bill it."""

    def __init__(self, meter: RequestMeter, estimator: TokenEstimator) -> None:
        self._meter = meter
        self._estimator = estimator

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        usage = self._meter.usage
        abandoned = exc_type is ClientDisconnected or exc_type is asyncio.CancelledError
        if abandoned and not (usage.input_tokens or usage.output_tokens):
            self._meter.usage = self._estimator.prompt_only()


@dataclass(frozen=True, slots=True)
class _Translation:
    """A request bound for a provider of another format: the hub both ways."""

    dialect: Dialect
    route: Route
    request: GenerationRequest
    estimator: TokenEstimator

    def render(self, body: bytes) -> tuple[bytes, TokenUsage]:
        """The upstream's whole answer in the client's format, and its usage (estimated
        when the upstream reported none)."""
        hub = self.route.adapter.response_to_hub(body, self.route.upstream_model)
        reported = hub.get("usage")
        usage = (
            usage_from_hub(reported)
            if isinstance(reported, dict)
            else self.estimator.from_hub_response(hub)
        )
        hub["usage"] = hub_usage(usage)
        return self.dialect.from_hub(hub, self.request.model), usage


async def generate(
    services: GatewayServices,
    exchange: Exchange,
    meter: RequestMeter,
    dialect: Dialect,
    target: PathTarget | None = None,
) -> None:
    """One generation request (chat completions, Messages, generateContent) in any format,
    to any provider, failing over between the model's channels."""
    meter.identity = await authenticate(
        services.keys, dialect.credential(exchange), exchange.client_ip
    )
    body = await exchange.read_body(services.max_body_bytes)
    request = dialect.parse(body, target)
    meter.requested_model, meter.stream = request.model, request.stream
    routes = services.channels.routes(meter.identity, request.model)
    estimate = token_estimate(request.input_bound, request.max_output_tokens)
    admitted = await services.limiter.admit(exchange, meter, estimate)

    async def attempt(route: Route) -> None:
        adapter, model = route.adapter, route.upstream_model
        price = services.billing.price_for(route)
        passthrough = adapter.name == dialect.name
        output_bound = services.billing.output_bound(
            route, request.max_output_tokens, request.output_field, clamp=not passthrough
        )
        hub: JsonObject | None = None
        dropped: list[str] = []
        if passthrough:
            added_limit = output_bound if request.max_output_tokens is None else None
            upstream_body = dialect.passthrough_body(body, request, model, added_limit)
            headers = dialect.passthrough_headers(exchange, route.headers)
        else:
            hub = with_output_limit({**dialect.to_hub(body, request), "model": model}, output_bound)
            reasons = model_reasons(model, route.channel.channel.provider)
            dropped = drop_for_target(hub, dialect.name, adapter.name, reasons=reasons)
            upstream_body = adapter.request_from_hub(hub)
            headers = route.headers
        show_dropped_fields(exchange, dropped)

        def hub_request() -> JsonObject:
            return hub if hub is not None else dialect.to_hub(body, request)

        estimator = TokenEstimator(adapter, model, body, hub_request)
        url = adapter.url(route.base_url, model, request.stream)
        async with (
            held(
                services.billing,
                meter,
                price,
                input_bound=request.input_bound,
                output_bound=output_bound * request.choices,
            ),
            abandoned_as(meter, estimator),
            cancel_on_disconnect(exchange),
            open_upstream(
                services.session, route, url, headers, upstream_body, stream=request.stream
            ) as answer,
        ):
            if passthrough and request.stream:
                tracker = adapter.stream_usage(hide_usage_chunk=not request.wants_usage)
                await relay_stream(exchange, answer, meter, tracker, estimator.from_events)
            elif passthrough:
                await relay_json(exchange, answer, meter, adapter.body_usage, estimator.from_body)
            elif request.stream:
                reader, writer = adapter.stream_reader(model), dialect.stream_writer(request)
                await relay_translated_stream(
                    exchange, answer, meter, reader, writer, estimator.from_hub_chunks
                )
            else:
                translation = _Translation(dialect, route, request, estimator)
                await relay_translated_json(exchange, answer, meter, translation.render)

    try:
        await with_failover(services.failover, exchange, meter, routes, attempt)
    finally:
        await services.limiter.finish(admitted, meter.usage)


async def embeddings(services: GatewayServices, exchange: Exchange, meter: RequestMeter) -> None:
    meter.identity = await authenticate_exchange(services, exchange)
    body = await exchange.read_body(services.max_body_bytes)
    request = parse_embeddings_request(body)
    meter.requested_model = request.model
    routes = services.channels.routes(meter.identity, request.model)
    tokens = token_estimate(len(request.input), None)
    admitted = await services.limiter.admit(exchange, meter, tokens)

    async def attempt(route: Route) -> None:
        price = services.billing.price_for(route)
        model = route.upstream_model
        gemini = GeminiEmbeddings(body, request.model) if route.adapter.name == "gemini" else None
        if gemini is not None:
            url = gemini_method_url(route.base_url, model, "batchEmbedContents")
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

        input_bound = len(request.input)
        async with (
            held(services.billing, meter, price, input_bound=input_bound, output_bound=0),
            cancel_on_disconnect(exchange),
            open_upstream(
                services.session, route, url, route.headers, upstream_body, stream=False
            ) as answer,
        ):
            if gemini is None:
                await relay_json(exchange, answer, meter, lambda b: read_usage(b).usage, estimate)
            else:
                translate = partial(gemini.answer, estimate=estimate)
                await relay_translated_json(exchange, answer, meter, translate)

    try:
        await with_failover(services.failover, exchange, meter, routes, attempt)
    finally:
        await services.limiter.finish(admitted, meter.usage)


def _model_entry(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "aisonar"}


async def list_models(services: GatewayServices, exchange: Exchange, meter: RequestMeter) -> None:
    meter.identity = await authenticate_exchange(services, exchange)
    models = services.channels.models_for(meter.identity)
    body = orjson.dumps({"object": "list", "data": [_model_entry(m) for m in models]})
    await exchange.respond(200, body)


async def retrieve_model(
    services: GatewayServices, exchange: Exchange, meter: RequestMeter, *, model: str
) -> None:
    meter.identity = await authenticate_exchange(services, exchange)
    meter.requested_model = model
    services.channels.routes(meter.identity, model)
    await exchange.respond(200, orjson.dumps(_model_entry(model)))
