"""Upstream channels: a provider account and the models it serves."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aisonar.errors import InvalidInput


class Provider(StrEnum):
    OPENAI = "openai"


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    provider: str
    base_url: str
    # name requested by clients -> name sent upstream
    models: dict[str, str]
    enabled: bool


@dataclass(frozen=True)
class ChannelWithSecret:
    channel: Channel
    api_key: str


def parse_model_map(spec: str) -> dict[str, str]:
    """`a,b,alias=upstream` -> {"a": "a", "b": "b", "alias": "upstream"}."""
    mapping: dict[str, str] = {}
    for item in spec.split(","):
        name, _, upstream = item.strip().partition("=")
        name, upstream = name.strip(), upstream.strip()
        if not name or ("=" in item and not upstream):
            raise InvalidInput(f"bad model entry {item.strip()!r}", param="models")
        mapping[name] = upstream or name
    if not mapping:
        raise InvalidInput("a channel needs at least one model", param="models")
    return mapping
