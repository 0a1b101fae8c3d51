"""Bring channels back into rotation, and say so: each channel whose cooldown ended is
probed with its provider's model list (free to call, and it proves the address, the
network and the key), and every change of a channel's state is logged and counted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp

from aisonar.channels.models import ChannelState
from aisonar.errors import AISonarError
from aisonar.gateway.health import ChannelHealth
from aisonar.gateway.routing import ChannelTable, Route
from aisonar.observability.metrics import GatewayMetrics

log = logging.getLogger(__name__)

_PROBE_TIMEOUT_S = 15.0


class ChannelStateLog:
    """The circuit breaker's listener: a log line and the metrics for every change."""

    def __init__(self, metrics: GatewayMetrics, table: Callable[[], ChannelTable]) -> None:
        self._metrics = metrics
        self._table = table

    def __call__(self, channel_id: str, old: ChannelState, new: ChannelState, reason: str) -> None:
        entry = self._table().channels.get(channel_id)
        name = entry.channel.name if entry is not None else channel_id
        level = logging.WARNING if new is ChannelState.OPEN else logging.INFO
        log.log(level, "channel %s (%s): %s -> %s (%s)", name, channel_id, old, new, reason)
        self._metrics.channel_changed(name, new)


async def probe(session: aiohttp.ClientSession, route: Route) -> str | None:
    """None when the channel answers well; else what went wrong."""
    url = route.adapter.models_url(route.channel.channel)
    timeout = aiohttp.ClientTimeout(
        total=_PROBE_TIMEOUT_S, sock_connect=route.timeouts.client.sock_connect
    )
    headers = route.headers
    try:
        if route.signer is not None:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                signed = await route.signer.authorize(session, "GET", url, b"")
            headers = {**headers, **signed}
        async with session.get(url, headers=headers, timeout=timeout) as response:
            await response.read()
    except TimeoutError:
        return "timeout"
    except aiohttp.ClientError:
        return "connect_error"
    except AISonarError:
        return "credentials"
    return None if response.status < 400 else f"http_{response.status}"


async def probe_due(
    health: ChannelHealth, table: ChannelTable, session: aiohttp.ClientSession
) -> None:
    due = [
        route
        for route in (table.template(channel_id) for channel_id in health.due_for_probe())
        if route is not None
    ]
    outcomes = await asyncio.gather(*(probe(session, route) for route in due))
    for route, outcome in zip(due, outcomes, strict=True):
        if outcome is None:
            health.probe_succeeded(route.channel_id)
        else:
            health.probe_failed(route.channel_id, outcome)


async def keep_probing(
    health: ChannelHealth,
    table: Callable[[], ChannelTable],
    session: aiohttp.ClientSession,
    *,
    interval_s: float,
) -> None:
    while True:
        await asyncio.sleep(interval_s)
        await probe_due(health, table(), session)
