"""Velocity: after a quiet week (the usage generator's traffic, about six requests an
hour, written through the real usage writer so the rollups are the gateway's own), a
burst of requests through the gateway at twelve times that rate is found; the quiet week
itself is not. And the baseline's arithmetic: the EWMA follows the level, the MAD is not
pulled by the spikes the history holds."""

from __future__ import annotations

import dataclasses
import itertools
import secrets
from datetime import timedelta

from aisonar.abuse.detection import Floors, detect
from aisonar.abuse.models import FindingKind
from aisonar.abuse.velocity import MAD_SCALE, TIMES_LEVEL, VelocityFloors, baseline, fast_keys
from aisonar.clock import utcnow
from aisonar.testing.gateway_server import RunningGateway
from aisonar.testing.usage_traffic import generated
from tests.abuse.traffic import chat_from, findings_about
from tests.support import Backend, Tenant, writer_drained
from tests.usage.test_rollups import write

PER_HOUR = 6


def test_the_baseline_follows_the_level_and_ignores_a_spike_in_its_spread() -> None:
    flat = baseline([6.0] * 168)
    assert (flat.level, flat.spread) == (6.0, 0.0)
    assert flat.threshold() == TIMES_LEVEL * 6.0
    spiky = baseline([6.0, 8.0] * 83 + [600.0, 6.0])
    assert spiky.spread == MAD_SCALE * 1.0
    assert baseline([]).threshold() == 0.0


async def quiet_week(backend: Backend, tenant: Tenant) -> None:
    """A week of the generator's events, ending an hour ago, as the tenant's key's."""
    start = utcnow() - timedelta(days=7, hours=1)
    source = generated(1, start, per_second=PER_HOUR / 3600, seed=secrets.randbelow(1000))
    week = itertools.islice(source, 7 * 24 * PER_HOUR)
    await write(
        backend,
        [
            dataclasses.replace(
                event,
                id="req_" + secrets.token_hex(8),
                org_id=tenant.org_id,
                user_id=tenant.user_id,
                key_id=tenant.key_id,
            )
            for event in week
        ],
    )


async def test_a_burst_after_a_quiet_week_is_found(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await quiet_week(backend, tenant)
    # The week's last ten minutes, with no floor to speak of: the baseline alone decides.
    async with backend.engine.connect() as conn:
        quiet = await fast_keys(
            conn, utcnow() - timedelta(hours=1), VelocityFloors(requests=1, spend=10**12)
        )
    assert tenant.key_id not in [fast.key_id for fast in quiet]

    for number in range(2 * PER_HOUR):
        await chat_from(gateway, tenant.secret, f"192.0.2.{number + 1}")
    await writer_drained(gateway)
    tight = dataclasses.replace(Floors.of(backend.settings), velocity_requests=10)
    await detect(backend.engine, utcnow(), tight)
    [finding] = await findings_about(backend, FindingKind.VELOCITY, tenant.key_id)
    assert finding.org_id == tenant.org_id
    evidence = finding.evidence
    assert (evidence["measure"], evidence["in_window"]) == ("requests", 2 * PER_HOUR)
    assert evidence["per_hour"] == 12 * PER_HOUR
    assert 3 <= evidence["ewma_per_hour"] <= 10
    assert evidence["threshold_per_hour"] < evidence["per_hour"]
