"""Key sharing: one key used, within the last hour, from more distinct client addresses
than both a floor and twice the most it used in any one hour of the week before, or from
more networks (/24 for IPv4, /48 for IPv6) it never used that week than a floor. Read
from the usage events the gateway records (their client address), off the hot path; the
hour's addresses are read only for keys with enough of them to pass a floor, and a key's
week only when its hour passes one."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.abuse.models import FindingKind, Signal, SubjectKind
from aisonar.accounts.services import network_of
from aisonar.store.tables import usage_events

WINDOW = timedelta(hours=1)
HISTORY = timedelta(days=7)
# The hour's addresses must be more than this many times the busiest hour of the week.
FACTOR = 2
# A key's week is read up to this many distinct addresses.
_HISTORY_ADDRESSES = 50_000


@dataclass(frozen=True)
class SharingFloors:
    addresses: int
    networks: int


def _hour(dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        # SQLAlchemy stores DateTime on SQLite as "YYYY-MM-DD HH:MM:SS.ffffff" text.
        return literal_column("substr(started_at, 1, 13)")
    return literal_column("date_trunc('hour', started_at AT TIME ZONE 'UTC')")


def _in(since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    e = usage_events.c
    return [
        e.started_at >= since,
        e.started_at < until,
        e.key_id.is_not(None),
        e.client_ip.is_not(None),
    ]


async def _addresses(
    conn: AsyncConnection, since: datetime, until: datetime, keys: list[str]
) -> dict[str, set[str]]:
    e = usage_events.c
    found: dict[str, set[str]] = defaultdict(set)
    rows = await conn.execute(
        select(e.key_id, e.client_ip)
        .where(*_in(since, until), e.key_id.in_(keys))
        .distinct()
        .limit(_HISTORY_ADDRESSES * max(1, len(keys)))
    )
    for key_id, address in rows:
        found[key_id].add(address)
    return found


async def _busiest_hours(
    conn: AsyncConnection, since: datetime, until: datetime, keys: list[str]
) -> dict[str, int]:
    """The most distinct addresses each key used in one hour between the two moments."""
    e = usage_events.c
    hour = _hour(conn.dialect.name)
    per_hour = (
        select(e.key_id, hour.label("hour"), func.count(e.client_ip.distinct()).label("n"))
        .where(*_in(since, until), e.key_id.in_(keys))
        .group_by(e.key_id, hour)
        .subquery()
    )
    rows = await conn.execute(
        select(per_hour.c.key_id, func.max(per_hour.c.n)).group_by(per_hour.c.key_id)
    )
    return {key_id: int(most) for key_id, most in rows}


async def shared_keys(conn: AsyncConnection, now: datetime, floors: SharingFloors) -> list[Signal]:
    e = usage_events.c
    since = now - WINDOW
    candidates = {
        row.key_id: (row.org_id, row.user_id)
        for row in await conn.execute(
            select(e.key_id, e.org_id, e.user_id)
            .where(*_in(since, now))
            .group_by(e.key_id, e.org_id, e.user_id)
            .having(func.count(e.client_ip.distinct()) >= min(floors.addresses, floors.networks))
        )
    }
    if not candidates:
        return []
    hour = await _addresses(conn, since, now, list(candidates))
    networks = {
        key: {net for net in map(network_of, addresses) if net is not None}
        for key, addresses in hour.items()
    }
    many_addresses = [key for key, found in hour.items() if len(found) >= floors.addresses]
    many_networks = [key for key, found in networks.items() if len(found) >= floors.networks]
    busiest = await _busiest_hours(conn, since - HISTORY, since, many_addresses)
    week = await _addresses(conn, since - HISTORY, since, many_networks)
    signals = []
    for key in sorted(set(many_addresses) | set(many_networks)):
        before = {net for net in map(network_of, week.get(key, ())) if net is not None}
        new_networks = networks[key] - before
        baseline = busiest.get(key, 0)
        shared = len(hour[key]) >= max(floors.addresses, FACTOR * baseline + 1)
        spread = key in many_networks and len(new_networks) >= floors.networks
        if not (shared or spread):
            continue
        org_id, user_id = candidates[key]
        evidence = {
            "addresses": len(hour[key]),
            "networks": len(networks[key]),
            "new_networks": len(new_networks),
            # The busiest hour of the week before, when the hour's addresses passed a floor.
            "busiest_hour_addresses": baseline if key in many_addresses else None,
            "floor_addresses": floors.addresses,
            "floor_networks": floors.networks,
            "window_minutes": int(WINDOW.total_seconds() // 60),
            "example_networks": sorted(new_networks or networks[key])[:5],
        }
        signals.append(
            Signal(
                FindingKind.KEY_SHARING,
                SubjectKind.KEY,
                key,
                evidence,
                window_start=now.replace(minute=0, second=0, microsecond=0),
                org_id=org_id,
                user_id=user_id,
            )
        )
    return signals
