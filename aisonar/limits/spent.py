"""What a key, user or organization spent in a period, as the database has it: the sum
of the costs of its gateway usage events (where spend counters start from).

Usage an application reports itself (ingest, otel) is priced for analytics but charged
to no one, so it is not spend: counting it would let a key that can only report exhaust
a user's or an organization's quota."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.limits.models import Subject, SubjectKind
from aisonar.limits.spend import Period
from aisonar.store.tables import usage_events

_COLUMNS = {
    SubjectKind.KEY: usage_events.c.key_id,
    SubjectKind.USER: usage_events.c.user_id,
    SubjectKind.ORG: usage_events.c.org_id,
}


async def spent_in_period(conn: AsyncConnection, counted: Subject, period: Period) -> int:
    column = _COLUMNS[SubjectKind(counted.kind)]
    query = select(func.coalesce(func.sum(usage_events.c.cost), 0)).where(
        column == counted.id,
        usage_events.c.started_at >= period.start,
        usage_events.c.started_at < period.end,
        usage_events.c.source == "gateway",
    )
    return int((await conn.execute(query)).scalar_one())
