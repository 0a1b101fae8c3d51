"""Generation (chat completions, Messages, generateContent) as the pipeline serves it: the
client's dialect reads the request; each attempt passes it through to a provider of the
same format, or translates it through the hub for any other, and the answer back."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from functools import partial

from aisonar.billing.output_limits import model_reasons
from aisonar.gateway.admission import token_estimate
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
from aisonar.gateway.upstream import UpstreamAnswer
from aisonar.gateway.wire.delivery import drop_for_target, show_dropped_fields
from aisonar.gateway.wire.dialect import Dialect, GenerationRequest, PathTarget
from aisonar.gateway.wire.hub import (
    JsonObject,
    hub_usage,
    usage_from_hub,
    with_output_limit,
)
from aisonar.token_usage import TokenUsage


@dataclass(frozen=True, slots=True)
class Generation:
    """A generation endpoint: its client's dialect, and for Gemini the model and the
    streaming its URL names."""

    dialect: Dialect
    target: PathTarget | None = None

    def credential(self, exchange: Exchange) -> str | None:
        return self.dialect.credential(exchange)

    def read(self, body: bytes) -> GenerationCall:
        return GenerationCall(self.dialect, body, self.dialect.parse(body, self.target))


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


class GenerationCall:
    """One generation request, read by its dialect."""

    __slots__ = ("_body", "_dialect", "_request", "model", "stream", "token_estimate")

    def __init__(self, dialect: Dialect, body: bytes, request: GenerationRequest) -> None:
        self._dialect = dialect
        self._body = body
        self._request = request
        self.model = request.model
        self.stream = request.stream
        self.token_estimate = token_estimate(request.input_bound, request.max_output_tokens)

    def leg(self, services: GatewayServices, exchange: Exchange, route: Route) -> Leg:
        dialect, request, body = self._dialect, self._request, self._body
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
            upstream_body = adapter.passthrough_body(
                dialect.passthrough_body(body, request, model, added_limit)
            )
            headers = dialect.passthrough_headers(exchange, route.headers)
        else:
            hub = with_output_limit({**dialect.to_hub(body, request), "model": model}, output_bound)
            reasons = model_reasons(route.priced_model, route.priced_provider)
            dropped = drop_for_target(hub, dialect.name, adapter.name, reasons=reasons)
            upstream_body = adapter.request_from_hub(hub)
            headers = route.headers
        show_dropped_fields(exchange, dropped)

        def hub_request() -> JsonObject:
            return hub if hub is not None else dialect.to_hub(body, request)

        estimator = TokenEstimator(adapter, model, body, hub_request)
        forward: Forward
        if passthrough and request.stream:
            tracker = adapter.stream_usage(hide_usage_chunk=not request.wants_usage)
            forward = partial(relay_stream, tracker=tracker, estimate=estimator.from_events)
        elif passthrough:
            forward = partial(relay_json, usage_of=adapter.body_usage, estimate=estimator.from_body)
        elif request.stream:
            forward = partial(self._translated_stream, route=route, estimator=estimator)
        else:
            translation = _Translation(dialect, route, request, estimator)
            forward = partial(relay_translated_json, translate=translation.render)
        return Leg(
            price,
            request.input_bound,
            output_bound * request.choices,
            adapter.url(route.channel.channel, model, request.stream),
            headers,
            upstream_body,
            forward,
            estimator,
            refusal=None if passthrough else adapter.refused_answer,
        )

    def _translated_stream(
        self,
        exchange: Exchange,
        answer: UpstreamAnswer,
        meter: RequestMeter,
        *,
        route: Route,
        estimator: TokenEstimator,
    ) -> Awaitable[None]:
        reader = route.adapter.stream_reader(route.upstream_model)
        writer = self._dialect.stream_writer(self._request)
        return relay_translated_stream(
            exchange, answer, meter, reader, writer, estimator.from_hub_chunks
        )
