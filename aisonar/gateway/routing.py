"""Route: which channels may serve a requested model, in the order to try them, under
which upstream name, through which provider adapter.

Channels of a higher priority come first; within one priority the healthy channels are
ordered by a weighted draw, so traffic splits by weight; a channel the circuit breaker
took out of rotation is left out until its probe brings it back."""

from __future__ import annotations

import random
from dataclasses import dataclass

import aiohttp

from aisonar.accounts.models import KeyIdentity
from aisonar.channels.model_names import is_pattern, substitute, wildcard_part
from aisonar.channels.models import ChannelTimeouts, ChannelWithSecret
from aisonar.channels.presets import served_by
from aisonar.gateway.errors import ModelNotAllowed, ModelNotFound, NoHealthyChannel
from aisonar.gateway.health import ChannelHealth
from aisonar.gateway.signers import Signers
from aisonar.gateway.wire.adapter import Signer, UpstreamAdapter
from aisonar.gateway.wire.registry import adapter_for, channel_adapter

# Names matched by patterns are resolved once and remembered, up to this many.
_PATTERN_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class UpstreamTimeouts:
    """A channel's timeouts with the server's settings filled in."""

    first_byte_s: float
    client: aiohttp.ClientTimeout

    @classmethod
    def resolve(cls, own: ChannelTimeouts, defaults: ChannelTimeouts) -> UpstreamTimeouts:
        connect = own.connect_s or defaults.connect_s
        total = own.total_s or defaults.total_s
        first_byte = own.first_byte_s or defaults.first_byte_s or total
        assert first_byte is not None
        return cls(first_byte, aiohttp.ClientTimeout(total=total, sock_connect=connect))


@dataclass(frozen=True, slots=True)
class Route:
    channel: ChannelWithSecret
    upstream_model: str
    adapter: UpstreamAdapter
    headers: dict[str, str]
    timeouts: UpstreamTimeouts
    # None for a fixed key in `headers`; else what adds each request's credentials.
    signer: Signer | None = None
    # The client's name for the model, where the upstream's names are the operator's own
    # (Azure's deployments) and so cannot be priced.
    client_model: str | None = None

    @property
    def channel_id(self) -> str:
        return self.channel.channel.id

    @property
    def priced_model(self) -> str:
        """The name prices and output limits are looked up by."""
        return self.client_model or self.upstream_model

    @property
    def provider(self) -> str:
        return self.channel.channel.provider

    @property
    def priced_provider(self) -> str:
        """The provider prices and output limits are looked up under, and usage recorded
        under: an OpenAI-compatible host's own (`deepseek`), else the channel's."""
        return served_by(self.channel.channel)

    @property
    def base_url(self) -> str:
        return self.channel.channel.base_url

    def url(self, path: str) -> str:
        """One of the format's endpoints by its public path (`/embeddings`), on this
        channel's host."""
        return self.adapter.path_url(self.channel.channel, self.upstream_model, path)


@dataclass(frozen=True, slots=True)
class _Tier:
    """The routes of one priority."""

    routes: tuple[Route, ...]
    weights: tuple[int, ...]


def _tiers(routes: list[Route]) -> tuple[_Tier, ...]:
    by_priority: dict[int, list[Route]] = {}
    for route in routes:
        by_priority.setdefault(route.channel.channel.priority, []).append(route)
    return tuple(
        _Tier(tuple(group), tuple(r.channel.channel.weight for r in group))
        for _, group in sorted(by_priority.items(), reverse=True)
    )


# A generator of its own: drawing from the `random` module's shared one would move the
# state of any other user of it in the process (Hypothesis checks its own is untouched).
_DRAWS = random.Random()


def _weighted_order(tier: _Tier, health: ChannelHealth) -> list[Route]:
    """The healthy routes of a tier, drawn by weight without replacement (a route of
    weight 0 only after every weighted one)."""
    drawn = [
        (_DRAWS.random() ** (1.0 / weight) if weight else -1.0, index)
        for index, (route, weight) in enumerate(zip(tier.routes, tier.weights, strict=True))
        if health.is_available(route.channel_id)
    ]
    drawn.sort(reverse=True)
    return [tier.routes[index] for _, index in drawn]


class ChannelTable:
    """An in-memory snapshot of the enabled channels, swapped whole on every change."""

    def __init__(
        self,
        channels: list[ChannelWithSecret],
        health: ChannelHealth,
        default_timeouts: ChannelTimeouts,
        signers: Signers | None = None,
    ) -> None:
        self.health = health
        self.channels = {entry.channel.id: entry for entry in channels}
        by_model: dict[str, list[Route]] = {}
        self._patterns: list[tuple[str, str, ChannelWithSecret]] = []
        self._resolved: dict[str, tuple[_Tier, ...]] = {}
        self._templates: dict[str, Route] = {}
        signers = signers or Signers()
        for entry in channels:
            adapter = channel_adapter(entry.channel)
            timeouts = UpstreamTimeouts.resolve(entry.channel.timeouts, default_timeouts)
            signer = signers.for_channel(entry, adapter)
            template = Route(entry, "", adapter, adapter.headers(entry), timeouts, signer)
            self._templates[entry.channel.id] = template
            for name, upstream in entry.channel.models.items():
                if is_pattern(name):
                    self._patterns.append((name, upstream, entry))
                else:
                    by_model.setdefault(name, []).append(_with_model(template, upstream, name))
        self._exact = sorted(by_model)
        for name, routes in by_model.items():
            self._resolved[name] = _tiers([*routes, *self._pattern_routes(name, routes)])
        health.forget_except(self.channels)
        signers.forget_except(self.channels)

    def _pattern_routes(self, model: str, exact: list[Route]) -> list[Route]:
        """Routes by pattern for channels that do not list `model` by name."""
        listed = {route.channel_id for route in exact}
        routes: list[Route] = []
        for pattern, upstream, entry in self._patterns:
            part = wildcard_part(pattern, model)
            if part is None or entry.channel.id in listed:
                continue
            listed.add(entry.channel.id)
            template = self._templates[entry.channel.id]
            routes.append(_with_model(template, substitute(upstream, part), model))
        return routes

    def _tiers_for(self, model: str) -> tuple[_Tier, ...]:
        tiers = self._resolved.get(model)
        if tiers is None:
            tiers = _tiers(self._pattern_routes(model, []))
            if len(self._resolved) < len(self._exact) + _PATTERN_CACHE_LIMIT:
                self._resolved[model] = tiers
        return tiers

    def models(self) -> list[str]:
        """The models listed by name (patterns admit more than can be listed)."""
        return self._exact

    def routes(self, identity: KeyIdentity, model: str) -> list[Route]:
        """The channels to try for `model`, in order; the first is the usual answer."""
        if not identity.may_use(model):
            raise ModelNotAllowed(f"This API key may not use the model `{model}`.", param="model")
        tiers = self._tiers_for(model)
        if not tiers:
            raise ModelNotFound(f"The model `{model}` does not exist.", param="model")
        first = tiers[0]
        if len(tiers) == 1 and len(first.routes) == 1:
            route = first.routes[0]
            if self.health.is_available(route.channel_id):
                return [route]
        ordered = [route for tier in tiers for route in _weighted_order(tier, self.health)]
        if not ordered:
            retry = self.health.seconds_until_available(
                route.channel_id for tier in tiers for route in tier.routes
            )
            raise NoHealthyChannel(retry)
        return ordered

    def template(self, channel_id: str) -> Route | None:
        """A channel's route without a model, for probes."""
        return self._templates.get(channel_id)

    def models_for(self, identity: KeyIdentity) -> list[str]:
        return [model for model in self._exact if identity.may_use(model)]


def _with_model(template: Route, upstream_model: str, requested: str) -> Route:
    adapter = adapter_for(template.channel.channel, upstream_model, requested)
    return Route(
        template.channel,
        upstream_model,
        adapter,
        template.headers,
        template.timeouts,
        template.signer,
        requested if adapter.prices_client_names else None,
    )
