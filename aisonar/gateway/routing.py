"""Route: which channel serves a requested model, under which upstream name, through
which provider adapter."""

from __future__ import annotations

from dataclasses import dataclass

from aisonar.accounts.models import KeyIdentity
from aisonar.channels.models import ChannelWithSecret
from aisonar.gateway.errors import ModelNotAllowed, ModelNotFound
from aisonar.gateway.providers.adapter import UpstreamAdapter
from aisonar.gateway.providers.registry import ADAPTERS


@dataclass(frozen=True, slots=True)
class Route:
    channel: ChannelWithSecret
    upstream_model: str
    adapter: UpstreamAdapter
    headers: dict[str, str]

    @property
    def provider(self) -> str:
        return self.channel.channel.provider

    @property
    def base_url(self) -> str:
        return self.channel.channel.base_url

    def url(self, path: str) -> str:
        return self.channel.channel.base_url + path


class ChannelTable:
    """An in-memory snapshot of the enabled channels, swapped whole on every change."""

    def __init__(self, channels: list[ChannelWithSecret]) -> None:
        self._by_model: dict[str, list[Route]] = {}
        for entry in channels:
            adapter = ADAPTERS[entry.channel.provider]
            headers = adapter.headers(entry)
            for name, upstream in entry.channel.models.items():
                route = Route(entry, upstream, adapter, headers)
                self._by_model.setdefault(name, []).append(route)

    def models(self) -> list[str]:
        return sorted(self._by_model)

    def resolve(self, identity: KeyIdentity, model: str) -> Route:
        if not identity.may_use(model):
            raise ModelNotAllowed(f"This API key may not use the model `{model}`.", param="model")
        routes = self._by_model.get(model)
        if not routes:
            raise ModelNotFound(f"The model `{model}` does not exist.", param="model")
        return routes[0]

    def models_for(self, identity: KeyIdentity) -> list[str]:
        return [model for model in self.models() if identity.may_use(model)]
