"""Refused key presentations per client address: the only part of abuse detection on the
hot path. A refusal adds one to a dict entry (bounded: past `max_addresses` addresses
until the next drain, new ones are not counted); each server's detection job drains the
dict into `abuse_tallies` rows every round, so servers sharing a database sum their
counts there. Nothing is counted for a key the gateway knows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.store.tables import abuse_tallies

KEY_REFUSED = "key_refused"
# Rows are summed over detection windows of minutes; a day is kept for the operators.
KEPT = timedelta(days=1)


class RefusedKeys:
    def __init__(self, max_addresses: int = 100_000) -> None:
        self._max_addresses = max_addresses
        self._counts: dict[str, int] = {}

    def count(self, client_ip: str | None) -> None:
        if client_ip is None:
            return
        counts = self._counts
        if client_ip in counts:
            counts[client_ip] += 1
        elif len(counts) < self._max_addresses:
            counts[client_ip] = 1

    def drain(self) -> dict[str, int]:
        drained, self._counts = self._counts, {}
        return drained


async def flush_tallies(conn: AsyncConnection, counts: dict[str, int], at: datetime) -> None:
    """Store what one server counted since its last flush, and forget the day-old rows."""
    if counts:
        rows = [
            {"kind": KEY_REFUSED, "subject": ip[:64], "at": at, "count": count}
            for ip, count in counts.items()
        ]
        await conn.execute(insert(abuse_tallies), rows)
    await conn.execute(delete(abuse_tallies).where(abuse_tallies.c.at < at - KEPT))
