"""What alert tests share: a moment to evaluate at, requests written through the real
usage writer (so the rollups are the gateway's own), and the notices an organization
got."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aisonar.alerts.models import AlertRule
from aisonar.alerts.services import get_rule
from aisonar.clock import utcnow
from aisonar.notify.notices import Notice, list_notices
from tests.support import Backend
from tests.usage.test_rollups import event, write

ALERT_KINDS = ("alert_firing", "alert_resolved")


def this_minute() -> datetime:
    """Half a minute into the current minute: windows end with it."""
    return utcnow().replace(second=30, microsecond=0)


async def requests(backend: Backend, org_id: str, at: datetime, count: int, **changes: Any) -> None:
    """`count` requests of the organization at `at` (successful, 500 ms, 1,000 micro-units
    each unless changed)."""
    await write(
        backend, [event(org_id, at - timedelta(seconds=i % 20), **changes) for i in range(count)]
    )


async def alert_notices(backend: Backend, org_id: str) -> list[Notice]:
    """The organization's alert notices, oldest first."""
    async with backend.engine.connect() as conn:
        found = await list_notices(conn, org_id)
    return [notice for notice in reversed(found) if notice.kind in ALERT_KINDS]


async def current(backend: Backend, rule_id: str) -> AlertRule:
    async with backend.engine.connect() as conn:
        return await get_rule(conn, rule_id)
