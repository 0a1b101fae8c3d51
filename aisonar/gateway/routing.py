"""Route: which channel serves a requested model, and under which upstream name."""

from __future__ import annotations

from dataclasses import dataclass

from aisonar.accounts.models import KeyIdentity
from aisonar.channels.models import ChannelWithSecret
from aisonar.gateway.errors import ModelNotAllowed, ModelNotFound
from aisonar.gateway.providers.openai import openai_headers


@dataclass(frozen=True, slots=True)
class Route:
    channel: ChannelWithSecret
    upstream_model: str
    headers: dict[str, str]

    def url(self, path: str) -> str:
        return self.channel.channel.base_url + path


class ChannelTable:
    """An in-memory snapshot of the enabled channels, swapped whole on every change."""

    def __init__(self, channels: list[ChannelWithSecret]) -> None:
        self._by_model: dict[str, list[Route]] = {}
        for entry in channels:
            headers = openai_headers(entry)
            for name, upstream in entry.channel.models.items():
                self._by_model.setdefault(name, []).append(Route(entry, upstream, headers))

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
