"""Each server's detection round, every `AISONAR_ABUSE_INTERVAL_S` (the first an interval
after it starts): flush the refused keys it counted, read the signals (`sharing`,
`attacks`) from what the database holds, and record a finding for each that fired (once
across servers, `findings`). Nothing here runs on a request's path."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.abuse.attacks import scanning_addresses, stuffing_addresses
from aisonar.abuse.expensive import first_expensive_uses
from aisonar.abuse.findings import record_finding
from aisonar.abuse.models import Finding
from aisonar.abuse.sharing import SharingFloors, shared_keys
from aisonar.abuse.sign_ups import sign_up_networks
from aisonar.abuse.tallies import RefusedKeys, flush_tallies
from aisonar.abuse.velocity import VelocityFloors, velocity_signals
from aisonar.billing.money import UNITS_PER_CREDIT
from aisonar.clock import utcnow
from aisonar.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Floors:
    key_addresses: int
    key_networks: int
    key_refusals: int
    sign_in_accounts: int
    velocity_requests: int
    # Micro-units.
    velocity_spend: int
    # Micro-units per million output tokens.
    expensive_output_price: int
    sign_ups: int

    @classmethod
    def of(cls, settings: Settings) -> Floors:
        return cls(
            key_addresses=settings.abuse_key_addresses_floor,
            key_networks=settings.abuse_key_networks_floor,
            key_refusals=settings.abuse_key_refusals_floor,
            sign_in_accounts=settings.abuse_sign_in_accounts_floor,
            velocity_requests=settings.abuse_velocity_requests_floor,
            velocity_spend=settings.abuse_velocity_spend_floor * UNITS_PER_CREDIT,
            expensive_output_price=settings.abuse_expensive_output_price * UNITS_PER_CREDIT,
            sign_ups=settings.abuse_sign_ups_floor,
        )


async def detect(
    engine: AsyncEngine, now: datetime, floors: Floors, refused: RefusedKeys | None = None
) -> list[Finding]:
    """One round at `now`: the findings it recorded."""
    if refused is not None:
        async with engine.begin() as conn:
            await flush_tallies(conn, refused.drain(), now)
    async with engine.connect() as conn:
        sharing = SharingFloors(floors.key_addresses, floors.key_networks)
        velocity = VelocityFloors(floors.velocity_requests, floors.velocity_spend)
        signals = [
            *await shared_keys(conn, now, sharing),
            *await scanning_addresses(conn, now, floors.key_refusals),
            *await stuffing_addresses(conn, now, floors.sign_in_accounts),
            *await velocity_signals(conn, now, velocity),
            *await first_expensive_uses(conn, now, floors.expensive_output_price),
            *await sign_up_networks(conn, now, floors.sign_ups),
        ]
    found = []
    for signal in signals:
        async with engine.begin() as conn:
            finding = await record_finding(conn, signal)
        if finding is not None:
            found.append(finding)
    return found


async def keep_detecting(
    engine: AsyncEngine, floors: Floors, refused: RefusedKeys, *, interval_s: float
) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await detect(engine, utcnow(), floors, refused)
        except (SQLAlchemyError, OSError):
            log.exception("could not look for abuse; will retry")
