"""For operators through every front end (the API, the console): how each upstream
channel stands in this server's circuit breaker, and a live test of one (a one-token
request with its own key, not billed or recorded)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.channels import services as channels
from aisonar.channels.models import ChannelState, ChannelTimeouts
from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.gateway.channel_test import model_to_test, round_trip
from aisonar.gateway.health import ChannelHealth


@dataclass(frozen=True)
class ChannelStanding:
    name: str
    provider: str
    enabled: bool
    # closed: in rotation; open: cooling down, no traffic; half_open: on trial after a
    # good probe; disabled: taken out by an operator.
    state: str
    consecutive_failures: int
    # Until the cooldown ends and the channel is probed (0 unless open).
    cooldown_remaining_s: float


@dataclass(frozen=True)
class ChannelTested:
    channel: str
    provider: str
    enabled: bool
    model: str
    upstream_model: str
    ok: bool
    status: int | None
    latency_ms: int
    input_tokens: int | None
    output_tokens: int | None
    error: str | None


async def channels_health(engine: AsyncEngine, health: ChannelHealth) -> list[ChannelStanding]:
    """Every channel as this server's circuit breaker sees it (each server keeps its own)."""
    async with engine.connect() as conn:
        every = await channels.list_channels(conn)
    return [
        ChannelStanding(
            name=channel.name,
            provider=channel.provider,
            enabled=channel.enabled,
            state=health.state(channel.id).value if channel.enabled else "disabled",
            consecutive_failures=health.consecutive_failures(channel.id),
            cooldown_remaining_s=round(health.seconds_until_available([channel.id]), 3)
            if health.state(channel.id) is ChannelState.OPEN
            else 0.0,
        )
        for channel in every
    ]


async def run_channel_test(
    engine: AsyncEngine, box: SecretBox, settings: Settings, name: str, model: str | None
) -> ChannelTested:
    """The one-token test of the channel named so, enabled or not; `ok` is false on any
    answer but a readable 2xx. `model` as clients name it; by default the first the
    channel lists by name."""
    async with engine.connect() as conn:
        entry = await channels.get_channel(conn, box, name)
    requested, upstream_model = model_to_test(entry.channel, model)
    defaults = ChannelTimeouts(
        connect_s=settings.upstream_connect_timeout_s, total_s=settings.upstream_total_timeout_s
    )
    outcome = await round_trip(entry, upstream_model, defaults)
    usage = outcome.usage
    return ChannelTested(
        channel=entry.channel.name,
        provider=entry.channel.provider,
        enabled=entry.channel.enabled,
        model=requested,
        upstream_model=upstream_model,
        ok=outcome.error is None,
        status=outcome.status,
        latency_ms=outcome.latency_ms,
        input_tokens=None if usage is None else usage.input_tokens,
        output_tokens=None if usage is None else usage.output_tokens,
        error=outcome.error,
    )
