"""For operators: how each upstream channel stands in this server's circuit breaker, and
a live test of one (a one-token request with its own key, not billed or recorded)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.channels import services as channels
from aisonar.channels.models import ChannelState, ChannelTimeouts
from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.gateway.channel_test import model_to_test, round_trip
from aisonar.gateway.services import GatewayServices
from aisonar.web.deps import Box, Config, Engine, Operator, Services

router = APIRouter(tags=["channels"])


class ChannelHealthOut(BaseModel):
    name: str
    provider: str
    enabled: bool
    # closed: in rotation; open: cooling down, no traffic; half_open: on trial after a
    # good probe; disabled: taken out by an operator.
    state: str
    consecutive_failures: int
    # Until the cooldown ends and the channel is probed (0 unless open).
    cooldown_remaining_s: float


class ChannelTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # As clients name it; default: the first model the channel lists by name.
    model: str | None = Field(default=None, max_length=200)


class ChannelTestOut(BaseModel):
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


@router.get("/api/channels/health")
async def channel_health(caller: Operator, db: Engine, running: Services) -> list[ChannelHealthOut]:
    """Every channel as this server's circuit breaker sees it (each server keeps its own)."""
    return await channels_health(db, running)


async def channels_health(db: AsyncEngine, running: GatewayServices) -> list[ChannelHealthOut]:
    """Every channel as this server's circuit breaker sees it (the console shows it too)."""
    async with db.connect() as conn:
        every = await channels.list_channels(conn)
    health = running.channels.health
    return [
        ChannelHealthOut(
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


@router.post("/api/channels/{name}/test")
async def test_channel(
    caller: Operator, db: Engine, box: Box, settings: Config, name: str, body: ChannelTestIn
) -> ChannelTestOut:
    """Ask the upstream for one token with the channel's own key, enabled or not; nothing
    is billed or recorded. `ok` is false on any answer but a readable 2xx."""
    return await run_channel_test(db, box, settings, name, body.model)


async def run_channel_test(
    db: AsyncEngine, box: SecretBox, settings: Settings, name: str, model: str | None
) -> ChannelTestOut:
    """The one-token test of the channel named so (the console runs it too)."""
    async with db.connect() as conn:
        entry = await channels.get_channel(conn, box, name)
    requested, upstream_model = model_to_test(entry.channel, model)
    defaults = ChannelTimeouts(
        connect_s=settings.upstream_connect_timeout_s, total_s=settings.upstream_total_timeout_s
    )
    outcome = await round_trip(entry, upstream_model, defaults)
    usage = outcome.usage
    return ChannelTestOut(
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
