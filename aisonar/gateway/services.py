"""The service bag: everything a running gateway shares across requests (the database,
the key and channel caches, the upstream session, billing, failover, metrics, limits and
the usage writer). The app builds it once; the relay's endpoints, ingest and the front
ends take it. No domain package imports it: they take the parts they need."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.gateway.admission import Limiter
from aisonar.gateway.auth import KeyCache
from aisonar.gateway.charging import Billing
from aisonar.gateway.counters import Counters
from aisonar.gateway.failover import FailoverPolicy
from aisonar.gateway.routing import ChannelTable
from aisonar.observability.metrics import GatewayMetrics
from aisonar.usage.writer import UsageWriter


@dataclass
class GatewayServices:
    engine: AsyncEngine
    # Where analytics and exports read: a read-only replica (AISONAR_DATABASE_READ_URL),
    # or the same engine.
    read_engine: AsyncEngine
    keys: KeyCache
    channels: ChannelTable
    session: aiohttp.ClientSession
    max_body_bytes: int
    billing: Billing
    failover: FailoverPolicy
    metrics: GatewayMetrics
    # A request's rate limits, spend quotas and balance, asked together (`ticket`).
    counters: Counters
    limiter: Limiter
    writer: UsageWriter
