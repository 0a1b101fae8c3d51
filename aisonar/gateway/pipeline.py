"""The hot path, top to bottom, for every endpoint that forwards to a provider (generation
in each wire format, embeddings, the Responses API): authenticate -> read -> route ->
admit -> hold -> forward -> settle -> record, with hold to settle once per attempt when a
channel fails over; an error is answered in the client's format, and every request is
recorded, whatever its outcome.

What differs between endpoints is a `Served` (how the key is presented, how the body is
read) and the `Call` it reads (what each attempt sends where, and how its answer is
relayed). A request whose format is the upstream's own is passed through byte for byte
(only the model name may change); any other is translated through the hub, both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import orjson

from aisonar.accounts.models import KeyIdentity
from aisonar.billing.pricing import ModelPrice
from aisonar.errors import AISonarError
from aisonar.gateway.admission import LimitRefusal
from aisonar.gateway.answer_figures import answer_headers
from aisonar.gateway.attribution import attribution_of
from aisonar.gateway.auth import authenticate, presented_key
from aisonar.gateway.charging import Billing, Hold
from aisonar.gateway.disconnect import cancel_on_disconnect
from aisonar.gateway.edge import answer_cancelled, answer_error
from aisonar.gateway.errors import ClientDisconnected
from aisonar.gateway.estimate import TokenEstimator
from aisonar.gateway.failover import with_failover
from aisonar.gateway.http import Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.routing import Route
from aisonar.gateway.run_budget import run_of, with_run
from aisonar.gateway.services import GatewayServices
from aisonar.gateway.ticket import Ticket
from aisonar.gateway.upstream import Refusal, UpstreamAnswer, open_upstream
from aisonar.gateway.wire.dialect import Dialect
from aisonar.limits.run_budget import RunCheck

# Relays the upstream's answer to the client, metering it: one of relay.py's functions,
# its endpoint's arguments bound.
Forward = Callable[[Exchange, UpstreamAnswer, RequestMeter], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Leg:
    """One attempt of a request on one route: what is held, what is sent where, and how
    the answer comes back."""

    price: ModelPrice
    input_bound: int
    output_bound: int
    url: str
    headers: dict[str, str]
    body: bytes
    forward: Forward
    # Charges the prompt of a request abandoned before anything came back; None where
    # such a request costs nothing.
    abandoned: TokenEstimator | None = None
    # Turns an upstream error into the answer standing for it (a refusal, for a client
    # of another format); None where every error is passed on.
    refusal: Refusal | None = None


class Call(Protocol):
    """One request of an endpoint, read from its body."""

    @property
    def model(self) -> str: ...

    @property
    def stream(self) -> bool: ...

    @property
    def token_estimate(self) -> int:
        """The tokens counted against the key's token rate limits when it is admitted."""
        ...

    def leg(self, services: GatewayServices, exchange: Exchange, route: Route) -> Leg: ...


class Served(Protocol):
    """What an endpoint the pipeline serves makes of a request: its key, its call, and the
    dialect its errors are answered in."""

    @property
    def dialect(self) -> Dialect: ...

    def credential(self, exchange: Exchange) -> str | None: ...

    def read(self, body: bytes) -> Call: ...


async def serve(served: Served, services: GatewayServices, exchange: Exchange) -> None:
    """One request, to any provider, failing over between the model's channels; answered
    and recorded whatever its outcome (an error, its client leaving, a shutdown)."""
    meter = RequestMeter(exchange.request_id, exchange.scope["path"], exchange.client_ip)
    exchange.sse_comments = served.dialect.sse_comments
    try:
        identity = meter.identity = await authenticate(
            services.keys, served.credential(exchange), exchange.client_ip
        )
        body = await exchange.read_body(services.max_body_bytes)
        call = served.read(body)
        meter.requested_model, meter.stream = call.model, call.stream
        run = run_of(exchange.headers, identity.org_id)
        meter.attribution = with_run(attribution_of(exchange.headers, body), run)
        routes = services.channels.routes(identity, call.model)
        admission = services.limiter.admission(
            identity, call.token_estimate, meter.attribution.end_user
        )
        ticket = Ticket(
            services.counters, services.limiter, services.billing.quotas, exchange, admission
        )
        try:
            attempt = partial(_attempt, services, exchange, meter, identity, call, ticket, run)
            await with_failover(
                services.failover, exchange, identity.key_id, routes, attempt, meter.attempted
            )
        finally:
            await ticket.end(meter.usage)
    except AISonarError as error:
        meter.error = error
        if isinstance(error, LimitRefusal):
            meter.decided(error.decision)
            if error.by_admission:
                meter.route = None
        exchange.extra_headers += answer_headers(meter.charged(), meter.overhead_ms())
        await answer_error(exchange, error, served.dialect)
    except asyncio.CancelledError:
        exchange.extra_headers += answer_headers(meter.charged(), meter.overhead_ms())
        meter.error = await answer_cancelled(exchange, served.dialect)
    finally:
        record(services, exchange, meter)


async def _attempt(
    services: GatewayServices,
    exchange: Exchange,
    meter: RequestMeter,
    identity: KeyIdentity,
    call: Call,
    ticket: Ticket,
    run: RunCheck | None,
    route: Route,
) -> None:
    """Hold, forward, settle: whatever ends the attempt (an error, its client leaving, a
    shutdown), its hold is settled or released."""
    meter.route = route
    leg = call.leg(services, exchange, route)
    hold = services.billing.hold(
        identity,
        meter.request_id,
        leg.price,
        input_bound=leg.input_bound,
        output_bound=leg.output_bound,
        end_user=meter.attribution.end_user,
        run=run,
    )
    decisions = await ticket.hold(hold)
    meter.decided(decisions.limits)
    meter.decided(decisions.quotas)
    meter.hold = hold
    try:
        meter.sending()
        async with (
            abandoned_as(meter, leg.abandoned),
            cancel_on_disconnect(exchange),
            open_upstream(
                services.session,
                route,
                leg.url,
                leg.headers,
                leg.body,
                stream=call.stream,
                refusal=leg.refusal,
            ) as answer,
        ):
            meter.answered()
            await leg.forward(exchange, answer, meter)
    finally:
        meter.answered()
        settle(services.billing, ticket, hold, meter, route)


def settle(billing: Billing, ticket: Ticket, hold: Hold, meter: RequestMeter, route: Route) -> None:
    """The attempt's real cost, from what was delivered, replaces its hold; the hold is
    released when nothing was. The request's counters carry it out with their next call."""
    charge = hold.charge(meter.usage)
    if charge is not None:
        meter.cost, meter.price_version = charge
    ticket.settle(billing.settle(hold, charge, route.upstream_model))


def record(services: GatewayServices, exchange: Exchange, meter: RequestMeter) -> None:
    """The request's usage event, to the usage writer and the metrics; a request refused
    before its key was known is not recorded."""
    if meter.identity is None:
        return
    event = meter.finish(exchange.status or 500)
    services.writer.submit(event)
    services.metrics.request_finished(event, exchange)


class abandoned_as:
    """A request abandoned before anything came back (its client left, or a shutdown's
    deadline cut it off) is charged its prompt, flagged estimated: the upstream read it,
    and may bill it."""

    def __init__(self, meter: RequestMeter, estimator: TokenEstimator | None) -> None:
        self._meter = meter
        self._estimator = estimator

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._estimator is None:
            return
        usage = self._meter.usage
        abandoned = exc_type is ClientDisconnected or exc_type is asyncio.CancelledError
        if abandoned and not (usage.input_tokens or usage.output_tokens):
            self._meter.usage = self._estimator.prompt_only()


async def authenticate_exchange(
    services: GatewayServices, exchange: Exchange, *, reporting: bool = False
) -> KeyIdentity:
    secret = presented_key(exchange.header(b"authorization"), exchange.header(b"x-api-key"))
    return await authenticate(services.keys, secret, exchange.client_ip, reporting=reporting)


def _model_entry(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "aisonar"}


async def list_models(services: GatewayServices, exchange: Exchange) -> None:
    identity = await authenticate_exchange(services, exchange)
    models = services.channels.models_for(identity)
    body = orjson.dumps({"object": "list", "data": [_model_entry(m) for m in models]})
    await exchange.respond(200, body)


async def retrieve_model(services: GatewayServices, exchange: Exchange, *, model: str) -> None:
    identity = await authenticate_exchange(services, exchange)
    services.channels.routes(identity, model)
    await exchange.respond(200, orjson.dumps(_model_entry(model)))
