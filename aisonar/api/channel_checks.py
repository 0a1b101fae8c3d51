"""For operators: how each upstream channel stands in this server's circuit breaker, and
a live test of one (a one-token request with its own key, not billed or recorded;
`gateway/channel_checks.py`)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from aisonar.gateway import channel_checks
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
    standings = await channel_checks.channels_health(db, running.channels.health)
    return [ChannelHealthOut(**vars(standing)) for standing in standings]


@router.post("/api/channels/{name}/test")
async def test_channel(
    caller: Operator, db: Engine, box: Box, settings: Config, name: str, body: ChannelTestIn
) -> ChannelTestOut:
    """Ask the upstream for one token with the channel's own key, enabled or not; nothing
    is billed or recorded. `ok` is false on any answer but a readable 2xx."""
    tested = await channel_checks.run_channel_test(db, box, settings, name, body.model)
    return ChannelTestOut(**vars(tested))
