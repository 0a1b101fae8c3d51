"""What observability reads of the gateway's channel table: the table satisfies these
protocols as it is, so observability sits below the gateway and imports nothing of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from aisonar.channels.models import ChannelState, ChannelWithSecret


class ChannelStates(Protocol):
    def state(self, channel_id: str) -> ChannelState: ...


class ChannelView(Protocol):
    """The enabled channels by id, and where each stands in the breaker."""

    @property
    def channels(self) -> Mapping[str, ChannelWithSecret]: ...

    @property
    def health(self) -> ChannelStates: ...
