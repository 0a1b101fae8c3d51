"""Upstream channels: a provider account and the models it serves, and where a channel
stands in the gateway's circuit breaker (read by observability, below the gateway)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from aisonar.channels.model_names import WILDCARD, is_pattern
from aisonar.errors import InvalidInput
from aisonar.i18n import N_


class Provider(StrEnum):
    """Each provider speaks its own wire format: `openai` covers any OpenAI-compatible host;
    the cloud ones reach their models through a cloud account."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    AZURE = "azure"
    BEDROCK = "bedrock"
    VERTEX = "vertex"


# What each provider's official SDK takes as its base URL; the gateway appends the paths.
DEFAULT_BASE_URLS: dict[str, str] = {
    Provider.OPENAI: "https://api.openai.com/v1",
    Provider.ANTHROPIC: "https://api.anthropic.com",
    Provider.GEMINI: "https://generativelanguage.googleapis.com",
}


class ChannelState(StrEnum):
    """Where a channel stands in the breaker."""

    CLOSED = "closed"  # in rotation
    OPEN = "open"  # cooling down; no traffic
    HALF_OPEN = "half_open"  # the probe succeeded; traffic flows; a failure that counts re-opens it


DEFAULT_PRIORITY = 0
DEFAULT_WEIGHT = 1


@dataclass(frozen=True)
class ChannelTimeouts:
    """Seconds; None takes the server's setting. First byte: the response headers of a
    whole answer, the first chunk of a stream."""

    connect_s: float | None = None
    first_byte_s: float | None = None
    total_s: float | None = None


SERVER_TIMEOUTS = ChannelTimeouts()


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    provider: str
    base_url: str
    # name (or `*` pattern) requested by clients -> name sent upstream
    models: dict[str, str]
    enabled: bool
    # Higher priorities are tried first; within one, channels share traffic by weight.
    priority: int = DEFAULT_PRIORITY
    weight: int = DEFAULT_WEIGHT
    timeouts: ChannelTimeouts = SERVER_TIMEOUTS
    # The provider's own settings, none of them secret (channels/options.py).
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelWithSecret:
    channel: Channel
    # An API key, or for a cloud provider a JSON document of credentials
    # (channels/credentials.py); sealed at rest, never logged or shown.
    api_key: str


def parse_model_map(spec: str) -> dict[str, str]:
    """`a,b,alias=upstream,claude-*,gpt-*=openai/gpt-*` -> {"a": "a", "b": "b",
    "alias": "upstream", "claude-*": "claude-*", "gpt-*": "openai/gpt-*"}: a pattern's
    upstream `*` stands for what the requested name's `*` matched."""
    mapping: dict[str, str] = {}
    for item in spec.split(","):
        name, _, upstream = item.strip().partition("=")
        name, upstream = name.strip(), upstream.strip()
        if not name or ("=" in item and not upstream):
            raise InvalidInput(N_("bad model entry {entry!r}"), param="models", entry=item.strip())
        if name.count(WILDCARD) > 1 or upstream.count(WILDCARD) > 1:
            raise InvalidInput(
                N_("a model pattern has one `*`: {entry!r}"), param="models", entry=item.strip()
            )
        if is_pattern(upstream) and not is_pattern(name):
            raise InvalidInput(
                N_("only a pattern can map to a pattern: {entry!r}"),
                param="models",
                entry=item.strip(),
            )
        mapping[name] = upstream or name
    if not mapping:
        raise InvalidInput(N_("a channel needs at least one model"), param="models")
    return mapping


def validate_routing(priority: int, weight: int) -> None:
    if weight < 0:
        raise InvalidInput(N_("a channel's weight is 0 or more"), param="weight")
    if not -1_000_000 <= priority <= 1_000_000:
        raise InvalidInput(N_("a channel's priority is within ±1,000,000"), param="priority")


def validate_timeouts(timeouts: ChannelTimeouts) -> None:
    for name, value in vars(timeouts).items():
        if value is not None and value <= 0:
            raise InvalidInput(N_("a timeout is a positive number of seconds"), param=name)
