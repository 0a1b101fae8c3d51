"""What a key, user, organization or end user of one spent in a period, as the database
has it: the sum of the costs of its gateway usage events (where spend counters start
from).

Usage an application reports itself (ingest, otel) is priced for analytics but charged
to no one, so it is not spend: counting it would let a key that can only report exhaust
a user's or an organization's quota."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.limits.models import Subject, SubjectKind
from aisonar.limits.spend import Period
from aisonar.store.tables import usage_events

_COLUMNS = {
    SubjectKind.KEY: usage_events.c.key_id,
    SubjectKind.USER: usage_events.c.user_id,
    SubjectKind.ORG: usage_events.c.org_id,
}


def _counted(subject: Subject) -> ColumnElement[bool]:
    kind = SubjectKind(subject.kind)
    if kind is SubjectKind.END_USER:
        org_id, _, end_user = subject.id.partition(":")
        return and_(usage_events.c.org_id == org_id, usage_events.c.end_user == end_user)
    return _COLUMNS[kind] == subject.id


async def spent_in_period(conn: AsyncConnection, counted: Subject, period: Period) -> int:
    query = select(func.coalesce(func.sum(usage_events.c.cost), 0)).where(
        _counted(counted),
        usage_events.c.started_at >= period.start,
        usage_events.c.started_at < period.end,
        usage_events.c.source == "gateway",
    )
    return int((await conn.execute(query)).scalar_one())
