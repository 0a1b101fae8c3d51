"""The hot path, top to bottom: authenticate -> route -> hold -> forward -> settle ->
record. (Admit joins here with rate limits.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts.models import KeyIdentity
from aisonar.gateway.auth import KeyCache, authenticate, presented_key
from aisonar.gateway.charging import Billing, held
from aisonar.gateway.formats.openai import (
    delivered_text,
    parse_chat_request,
    parse_embeddings_request,
    response_text,
    rewrite_body,
)
from aisonar.gateway.formats.usage import TokenUsage
from aisonar.gateway.http import Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.relay import relay_json, relay_stream
from aisonar.gateway.routing import ChannelTable
from aisonar.gateway.upstream import upstream_error, upstream_post
from aisonar.usage.tokens import count_chat_prompt_tokens, count_text_tokens


@dataclass
class GatewayServices:
    engine: AsyncEngine
    keys: KeyCache
    channels: ChannelTable
    session: aiohttp.ClientSession
    max_body_bytes: int
    billing: Billing


async def authenticate_exchange(services: GatewayServices, exchange: Exchange) -> KeyIdentity:
    secret = presented_key(exchange.header(b"authorization"), exchange.header(b"x-api-key"))
    return await authenticate(services.keys, secret)


async def chat_completions(
    services: GatewayServices, exchange: Exchange, meter: RequestMeter
) -> None:
    meter.identity = await authenticate_exchange(services, exchange)
    body = await exchange.read_body(services.max_body_bytes)
    request = parse_chat_request(body)
    meter.requested_model, meter.stream = request.model, bool(request.stream)
    route = meter.route = services.channels.resolve(meter.identity, request.model)
    price = services.billing.price_for(route)
    requested_output = request.max_completion_tokens or request.max_tokens
    output_bound = services.billing.output_bound(price, requested_output) * (request.n or 1)
    force_usage = meter.stream and not request.client_wants_usage
    upstream_body = rewrite_body(
        body, model=route.upstream_model, requested_model=request.model, force_usage=force_usage
    )

    def estimate(delivered: list[bytes]) -> TokenUsage:
        model = route.upstream_model
        text = delivered_text(delivered) if meter.stream else response_text(delivered[0])
        messages: Any = orjson.loads(bytes(request.messages))
        return TokenUsage(
            input_tokens=count_chat_prompt_tokens(messages, model),
            output_tokens=count_text_tokens(text, model),
            estimated=True,
        )

    url = route.url("/chat/completions")
    # A token is at least one byte, so the messages' size bounds their tokens.
    input_bound = len(request.messages)
    async with (
        held(services.billing, meter, price, input_bound=input_bound, output_bound=output_bound),
        upstream_post(services.session, url, route.headers, upstream_body) as response,
    ):
        if response.status >= 400:
            raise upstream_error(
                response.status,
                await response.read(),
                dict(response.headers),
                route.channel.api_key,
            )
        if meter.stream:
            await relay_stream(exchange, response, meter, hide_usage=force_usage, estimate=estimate)
        else:
            await relay_json(exchange, response, meter, estimate)


async def embeddings(services: GatewayServices, exchange: Exchange, meter: RequestMeter) -> None:
    meter.identity = await authenticate_exchange(services, exchange)
    body = await exchange.read_body(services.max_body_bytes)
    request = parse_embeddings_request(body)
    meter.requested_model = request.model
    route = meter.route = services.channels.resolve(meter.identity, request.model)
    price = services.billing.price_for(route)
    upstream_body = rewrite_body(
        body, model=route.upstream_model, requested_model=request.model, force_usage=False
    )

    def estimate(_: list[bytes]) -> TokenUsage:
        inputs: Any = orjson.loads(bytes(request.input))
        texts = [inputs] if isinstance(inputs, str) else [str(item) for item in inputs]
        tokens = sum(count_text_tokens(text, route.upstream_model) for text in texts)
        return TokenUsage(input_tokens=tokens, estimated=True)

    url = route.url("/embeddings")
    async with (
        held(services.billing, meter, price, input_bound=len(request.input), output_bound=0),
        upstream_post(services.session, url, route.headers, upstream_body) as response,
    ):
        if response.status >= 400:
            raise upstream_error(
                response.status,
                await response.read(),
                dict(response.headers),
                route.channel.api_key,
            )
        await relay_json(exchange, response, meter, estimate)


def _model_entry(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "aisonar"}


async def list_models(services: GatewayServices, exchange: Exchange, meter: RequestMeter) -> None:
    meter.identity = await authenticate_exchange(services, exchange)
    models = services.channels.models_for(meter.identity)
    body = orjson.dumps({"object": "list", "data": [_model_entry(m) for m in models]})
    await exchange.respond(200, body)


async def retrieve_model(
    services: GatewayServices, exchange: Exchange, meter: RequestMeter, model: str
) -> None:
    meter.identity = await authenticate_exchange(services, exchange)
    meter.requested_model = model
    services.channels.resolve(meter.identity, model)
    await exchange.respond(200, orjson.dumps(_model_entry(model)))
