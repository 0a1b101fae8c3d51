"""OpenAI's Responses API (`POST /v1/responses`): passed through to OpenAI-format channels
and metered from its usage block or its `response.completed` event; translated through the
hub for the others, and metered like any translated request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import orjson

from aisonar.billing.output_limits import model_reasons
from aisonar.gateway.admission import token_estimate
from aisonar.gateway.auth import presented_key
from aisonar.gateway.body.output_limit import insert_field
from aisonar.gateway.body.prompt_bound import prompt_bound
from aisonar.gateway.endpoint import OPENAI
from aisonar.gateway.estimate import TokenEstimator
from aisonar.gateway.http import Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.pipeline import Forward, Leg
from aisonar.gateway.relay import (
    relay_json,
    relay_stream,
    relay_translated_json,
    relay_translated_stream,
)
from aisonar.gateway.routing import Route
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.sse import event_data
from aisonar.gateway.upstream import UpstreamAnswer
from aisonar.gateway.wire.delivery import drop_for_target, show_dropped_fields
from aisonar.gateway.wire.hub import (
    JsonObject,
    hub_usage,
    note_dropped,
    usage_from_hub,
    with_output_limit,
)
from aisonar.gateway.wire.responses.answers import ResponseFrame, hub_response_to_responses
from aisonar.gateway.wire.responses.compaction import OWN_MARK, summaries_as_messages
from aisonar.gateway.wire.responses.format import (
    ResponsesRequest,
    ResponsesStreamUsage,
    parse_responses_request,
    responses_body_usage,
    responses_delivered_text,
    responses_output_text,
    responses_stream_error_event,
)
from aisonar.gateway.wire.responses.hub_client import (
    HubRequest,
    client_names,
    responses_request_to_hub,
    upstream_request,
)
from aisonar.gateway.wire.responses.stream import (
    HubToCompactionStream,
    HubToResponsesStream,
)
from aisonar.token_usage import TokenUsage
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
    client set none; compaction items of the gateway's own (`wire/responses/compaction.py`)
    become the messages of their summaries."""
    own_compaction = OWN_MARK in body
    if model == request.model and not own_compaction:
        if request.max_output_tokens is not None:
            return body
        return insert_field(body, "max_output_tokens", output_bound)
    document = orjson.loads(body)
    document["model"] = model
    document["max_output_tokens"] = output_bound
    if own_compaction:
        document["input"] = summaries_as_messages(document.get("input"))
    return orjson.dumps(document)


class _Translation:
    """The request for upstreams of another format, converted once, when first needed."""

    def __init__(self, body: bytes, request: ResponsesRequest) -> None:
        self.body = body
        self.request = request
        self._converted: tuple[JsonObject, HubRequest] | None = None

    def converted(self) -> tuple[JsonObject, HubRequest]:
        """The client's document and its hub request."""
        if self._converted is None:
            document: JsonObject = orjson.loads(self.body)
            self._converted = document, responses_request_to_hub(document)
        return self._converted


def _render(
    route: Route, frame: ResponseFrame, estimator: TokenEstimator, compacting: bool, body: bytes
) -> tuple[bytes, TokenUsage]:
    """The upstream's whole answer as a Response, and its usage (estimated when the upstream
    reported none)."""
    hub = route.adapter.response_to_hub(body, route.upstream_model)
    reported = hub.get("usage")
    usage = (
        usage_from_hub(reported) if isinstance(reported, dict) else estimator.from_hub_response(hub)
    )
    hub["usage"] = hub_usage(usage)
    return orjson.dumps(hub_response_to_responses(hub, frame, compacting=compacting)), usage


class Responses:
    """The `/v1/responses` endpoint."""

    dialect = OPENAI

    def credential(self, exchange: Exchange) -> str | None:
        return presented_key(exchange.header(b"authorization"), exchange.header(b"x-api-key"))

    def read(self, body: bytes) -> ResponsesCall:
        return ResponsesCall(body, parse_responses_request(body))


class ResponsesCall:
    """One Responses request."""

    __slots__ = ("_input_bound", "_request", "_translation", "model", "stream", "token_estimate")

    def __init__(self, body: bytes, request: ResponsesRequest) -> None:
        self._request = request
        self.model = request.model
        self.stream = bool(request.stream)
        self._input_bound = prompt_bound(body)
        self._translation = _Translation(body, request)
        self.token_estimate = token_estimate(self._input_bound, request.max_output_tokens)

    def leg(self, services: GatewayServices, exchange: Exchange, route: Route) -> Leg:
        if route.adapter.name == "openai":
            return self._passed_through(services, exchange, route)
        return self._translated(services, exchange, route)

    def _translated(self, services: GatewayServices, exchange: Exchange, route: Route) -> Leg:
        """To an Anthropic or Gemini upstream, through the hub both ways."""
        adapter, model = route.adapter, route.upstream_model
        translation = self._translation
        document, converted = translation.converted()
        request = translation.request
        output_bound = services.billing.output_bound(
            route, request.max_output_tokens, "max_output_tokens", clamp=True
        )
        hub = with_output_limit({**converted.hub, "model": model}, output_bound)
        note_dropped(hub, *converted.dropped)
        reasons = model_reasons(route.priced_model, route.priced_provider)
        dropped = drop_for_target(hub, "responses", adapter.name, reasons=reasons)
        upstream_body = upstream_request(adapter.request_from_hub, hub)
        show_dropped_fields(exchange, client_names(dropped))
        frame = ResponseFrame.of(document, request.model, converted.names)
        estimator = TokenEstimator(adapter, model, translation.body, lambda: hub)
        url = adapter.url(route.channel.channel, model, self.stream)
        price = services.billing.price_for(route)
        forward: Forward
        if self.stream:
            forward = partial(
                _translated_stream,
                route=route,
                frame=frame,
                estimator=estimator,
                compacting=converted.compacting,
            )
        else:
            render = partial(_render, route, frame, estimator, converted.compacting)
            forward = partial(relay_translated_json, translate=render)
        return Leg(
            price,
            self._input_bound,
            output_bound,
            url,
            route.headers,
            upstream_body,
            forward,
            estimator,
        )

    def _passed_through(self, services: GatewayServices, exchange: Exchange, route: Route) -> Leg:
        """To an OpenAI upstream, the client's bytes as they are but for the model."""
        model, request = route.upstream_model, self._request
        output_bound = services.billing.output_bound(
            route, request.max_output_tokens, "max_output_tokens", clamp=False
        )
        upstream_body = _upstream_body(self._translation.body, request, model, output_bound)
        show_dropped_fields(exchange, [])
        price = services.billing.price_for(route)
        estimator = _Estimator(request, model)
        url = route.url("/responses")
        forward: Forward
        if self.stream:
            forward = partial(_passed_through_stream, estimate=estimator.from_events)
        else:
            forward = partial(
                relay_json, usage_of=responses_body_usage, estimate=estimator.from_body
            )
        return Leg(
            price, self._input_bound, output_bound, url, route.headers, upstream_body, forward
        )


def _translated_stream(
    exchange: Exchange,
    answer: UpstreamAnswer,
    meter: RequestMeter,
    *,
    route: Route,
    frame: ResponseFrame,
    estimator: TokenEstimator,
    compacting: bool,
) -> Awaitable[None]:
    reader = route.adapter.stream_reader(route.upstream_model)
    writer = (HubToCompactionStream if compacting else HubToResponsesStream)(frame)
    exchange.stream_error = writer.fail
    return relay_translated_stream(
        exchange, answer, meter, reader, writer, estimator.from_hub_chunks
    )


def _passed_through_stream(
    exchange: Exchange,
    answer: UpstreamAnswer,
    meter: RequestMeter,
    *,
    estimate: Callable[[list[bytes]], TokenUsage],
) -> Awaitable[None]:
    exchange.stream_error = responses_stream_error_event
    return relay_stream(exchange, answer, meter, ResponsesStreamUsage(), estimate)
