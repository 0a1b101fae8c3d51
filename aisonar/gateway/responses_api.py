"""OpenAI's Responses API (`POST /v1/responses`): passed through to OpenAI-format channels
and metered from its usage block or its `response.completed` event."""

from __future__ import annotations

import orjson

from aisonar.gateway.admission import token_estimate
from aisonar.gateway.charging import held
from aisonar.gateway.disconnect import cancel_on_disconnect
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.failover import with_failover
from aisonar.gateway.formats.output_limit import insert_field
from aisonar.gateway.formats.prompt_bound import prompt_bound
from aisonar.gateway.formats.responses import (
    ResponsesRequest,
    ResponsesStreamUsage,
    parse_responses_request,
    responses_body_usage,
    responses_delivered_text,
    responses_output_text,
)
from aisonar.gateway.formats.usage import TokenUsage
from aisonar.gateway.http import Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.pipeline import GatewayServices, authenticate_exchange
from aisonar.gateway.relay import relay_json, relay_stream
from aisonar.gateway.routing import Route
from aisonar.gateway.sse import event_data
from aisonar.gateway.upstream import open_upstream
from aisonar.usage.tokens import count_text_tokens


class _Estimator:
    def __init__(self, request: ResponsesRequest, model: str) -> None:
        self._prompt = bytes(request.input).decode(errors="replace") + (request.instructions or "")
        self._model = model

    def _usage(self, output: str) -> TokenUsage:
        return TokenUsage(
            input_tokens=count_text_tokens(self._prompt, self._model),
            output_tokens=count_text_tokens(output, self._model),
            estimated=True,
        )

    def from_events(self, events: list[bytes]) -> TokenUsage:
        return self._usage(responses_delivered_text([event_data(event) for event in events]))

    def from_body(self, body: bytes) -> TokenUsage:
        return self._usage(responses_output_text(body))


def _upstream_body(body: bytes, request: ResponsesRequest, model: str, output_bound: int) -> bytes:
    """The client's bytes with the upstream's model, and the gateway's output limit when the
    client set none."""
    if model == request.model:
        if request.max_output_tokens is not None:
            return body
        return insert_field(body, "max_output_tokens", output_bound)
    document = orjson.loads(body)
    document["model"] = model
    document["max_output_tokens"] = output_bound
    return orjson.dumps(document)


async def responses(services: GatewayServices, exchange: Exchange, meter: RequestMeter) -> None:
    meter.identity = await authenticate_exchange(services, exchange)
    body = await exchange.read_body(services.max_body_bytes)
    request = parse_responses_request(body)
    meter.requested_model, meter.stream = request.model, bool(request.stream)
    routes = [
        route
        for route in services.channels.routes(meter.identity, request.model)
        if route.adapter.name == "openai"
    ]
    if not routes:
        raise InvalidRequest(
            f"The Responses API is served by OpenAI-format channels only, and `{request.model}`"
            " has none; use /v1/chat/completions, /v1/messages or generateContent instead.",
            param="model",
        )

    input_bound = prompt_bound(body)

    async def attempt(route: Route) -> None:
        model = route.upstream_model
        output_bound = services.billing.output_bound(
            route, request.max_output_tokens, "max_output_tokens", clamp=False
        )
        upstream_body = _upstream_body(body, request, model, output_bound)
        price = services.billing.price_for(route)
        estimator = _Estimator(request, model)
        url = route.url("/responses")
        async with (
            held(
                services.billing, meter, price, input_bound=input_bound, output_bound=output_bound
            ),
            cancel_on_disconnect(exchange),
            open_upstream(
                services.session, route, url, route.headers, upstream_body, stream=meter.stream
            ) as answer,
        ):
            if meter.stream:
                tracker = ResponsesStreamUsage()
                await relay_stream(exchange, answer, meter, tracker, estimator.from_events)
            else:
                await relay_json(exchange, answer, meter, responses_body_usage, estimator.from_body)

    estimate = token_estimate(input_bound, request.max_output_tokens)
    admitted = await services.limiter.admit(exchange, meter, estimate)
    try:
        await with_failover(services.failover, exchange, meter, routes, attempt)
    finally:
        await services.limiter.finish(admitted, meter.usage)
