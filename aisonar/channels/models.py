"""Upstream channels: a provider account and the models it serves."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aisonar.errors import InvalidInput


class Provider(StrEnum):
    """Each provider speaks its own wire format: `openai` covers any OpenAI-compatible host."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"


# What each provider's official SDK takes as its base URL; the gateway appends the paths.
DEFAULT_BASE_URLS: dict[str, str] = {
    Provider.OPENAI: "https://api.openai.com/v1",
    Provider.ANTHROPIC: "https://api.anthropic.com",
    Provider.GEMINI: "https://generativelanguage.googleapis.com",
}


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
