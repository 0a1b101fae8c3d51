"""How this server stands now, as the API's `GET /api/system/status` answers it and the
console's status page shows it: the version and uptime of the server that answers, its
database and Redis (`observability/system_status.py`), its usage and ledger writers'
queues, and its upstream channels by state."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from aisonar.channels.models import ChannelState
from aisonar.clock import utcnow
from aisonar.config import Settings
from aisonar.gateway.services import GatewayServices
from aisonar.observability.services import (
    DatabaseStatus,
    RedisStatus,
    aisonar_version,
    database_status,
    redis_status,
)
from aisonar.store.tables import channels

# How the status names the breaker's states.
_STATE_NAMES = {
    ChannelState.CLOSED: "healthy",
    ChannelState.HALF_OPEN: "on_trial",
    ChannelState.OPEN: "cooling_down",
}


class UsageWriterStatus(BaseModel):
    # Usage events waiting to be written.
    queue_depth: int
    # Events dropped because the queue was full, since the server started.
    dropped: int
    written: int
    # When a flush last ended with the queue written (every `AISONAR_USAGE_FLUSH_INTERVAL_S`
    # while all is well); null before the first.
    last_flush_at: datetime | None


class LedgerWriterStatus(BaseModel):
    # Usage charges waiting to be appended to the ledger.
    queue_depth: int


class ChannelsStatus(BaseModel):
    # The enabled channels as this server's circuit breaker sees them: healthy (in
    # rotation), on_trial (after a good probe), cooling_down (no traffic until probed).
    by_state: dict[str, int]
    # Taken out by an operator (null: the database could not be read).
    disabled: int | None


class SystemStatus(BaseModel):
    version: str
    started_at: datetime
    uptime_s: float
    database: DatabaseStatus
    redis: RedisStatus
    usage_writer: UsageWriterStatus
    ledger_writer: LedgerWriterStatus
    channels: ChannelsStatus


async def _channels(running: GatewayServices) -> ChannelsStatus:
    table = running.channels
    states = Counter(_STATE_NAMES[table.health.state(channel_id)] for channel_id in table.channels)
    by_state = {name: states[name] for name in _STATE_NAMES.values()}
    try:
        async with running.engine.connect() as conn:
            disabled = await conn.scalar(
                select(func.count()).select_from(channels).where(channels.c.enabled.is_(False))
            )
    except (SQLAlchemyError, OSError):
        disabled = None
    return ChannelsStatus(by_state=by_state, disabled=disabled)


async def status_now(
    started_at: datetime, running: GatewayServices, settings: Settings
) -> SystemStatus:
    """How this server (up since `started_at`) stands now."""
    database, redis, channel_states = await asyncio.gather(
        database_status(running.engine), redis_status(settings.redis_url), _channels(running)
    )
    writer = running.writer
    return SystemStatus(
        version=aisonar_version(),
        started_at=started_at,
        uptime_s=round((utcnow() - started_at).total_seconds(), 3),
        database=database,
        redis=redis,
        usage_writer=UsageWriterStatus(
            queue_depth=writer.queue_depth,
            dropped=writer.dropped,
            written=writer.written,
            last_flush_at=writer.last_flush_at,
        ),
        ledger_writer=LedgerWriterStatus(queue_depth=running.billing.ledger.pending),
        channels=channel_states,
    )
