"""OpenAI's Responses API (`POST /v1/responses`): passed through to OpenAI-format channels
and metered from its usage block or its `response.completed` event."""

from __future__ import annotations

import orjson

from aisonar.gateway.charging import held
from aisonar.gateway.errors import InvalidRequest
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
from aisonar.gateway.pipeline import (
    GatewayServices,
    authenticate_exchange,
    raise_for_upstream_status,
)
from aisonar.gateway.relay import relay_json, relay_stream
from aisonar.gateway.sse import event_data
from aisonar.gateway.upstream import upstream_post
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


async def responses(services: GatewayServices, exchange: Exchange, meter: RequestMeter) -> None:
    meter.identity = await authenticate_exchange(services, exchange)
    body = await exchange.read_body(services.max_body_bytes)
    request = parse_responses_request(body)
    meter.requested_model, meter.stream = request.model, bool(request.stream)
    route = meter.route = services.channels.resolve(meter.identity, request.model)
    if route.adapter.name != "openai":
        raise InvalidRequest(
            f"The Responses API is served by OpenAI-format channels only, and `{request.model}`"
            " is not one; use /v1/chat/completions, /v1/messages or generateContent instead.",
            param="model",
        )
    model = route.upstream_model
    if model != request.model:
        body = orjson.dumps({**orjson.loads(body), "model": model})
    price = services.billing.price_for(route)
    output_bound = services.billing.output_bound(price, request.max_output_tokens)
    estimator = _Estimator(request, model)
    async with (
        held(services.billing, meter, price, input_bound=len(body), output_bound=output_bound),
        upstream_post(services.session, route.url("/responses"), route.headers, body) as response,
    ):
        await raise_for_upstream_status(response, route)
        if meter.stream:
            tracker = ResponsesStreamUsage()
            await relay_stream(exchange, response, meter, tracker, estimator.from_events)
        else:
            await relay_json(exchange, response, meter, responses_body_usage, estimator.from_body)
