"""No finding on a normal week: the usage generator's traffic for 100 organizations (5
keys each, each key's clients spread over its own /24) written straight into the usage
events, then a detection round at the end of each hour of the last day. Counted with the
default floors, and with the address floor lowered to 4 so that the key's own baseline
(twice its busiest hour of the week before) is what keeps every key quiet."""

from __future__ import annotations

import itertools
from dataclasses import fields
from datetime import timedelta

from sqlalchemy import delete, insert

from aisonar.abuse.sharing import SharingFloors, shared_keys
from aisonar.clock import utcnow
from aisonar.store.tables import usage_events
from aisonar.testing.usage_traffic import generated
from aisonar.usage.models import UsageEvent
from tests.support import Backend

ORGS = 100
# Events per second over the week: 2 to 3 requests per key and hour.
PER_SECOND = 0.3
COLUMNS = [field.name for field in fields(UsageEvent)]


async def test_a_normal_week_of_a_hundred_organizations_raises_no_finding(
    backend: Backend,
) -> None:
    end = utcnow().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=7)
    count = int(7 * 24 * 3600 * PER_SECOND)
    source = generated(ORGS, start, per_second=PER_SECOND, seed=26)
    async with backend.engine.begin() as conn:
        while batch := list(itertools.islice(source, min(5000, count))):
            rows = [{name: getattr(event, name) for name in COLUMNS} for event in batch]
            await conn.execute(insert(usage_events), rows)
            count -= len(batch)
    try:
        raised = {"default": 0, "baseline": 0}
        async with backend.engine.connect() as conn:
            for hour in range(24):
                now = end - timedelta(hours=hour)
                for name, floors in (
                    ("default", SharingFloors(backend.settings.abuse_key_addresses_floor, 8)),
                    ("baseline", SharingFloors(4, 2)),
                ):
                    found = await shared_keys(conn, now, floors)
                    raised[name] += len([s for s in found if str(s.org_id).startswith("org_bench")])
        assert raised == {"default": 0, "baseline": 0}, f"false positives: {raised}"
    finally:
        async with backend.engine.begin() as conn:
            await conn.execute(delete(usage_events).where(usage_events.c.org_id.like("org_bench%")))
