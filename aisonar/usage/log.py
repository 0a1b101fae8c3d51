"""A person's usage log: their usage events, newest first, a page at a time (keyset on
started_at and id, so a page stays put while new events arrive), metadata only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.clock import as_utc
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.store.tables import usage_events

STATUS_CLASSES = ("2", "4", "5")


@dataclass(frozen=True)
class LogPosition:
    """Where a page ends: the next page starts after this event."""

    started_at: datetime
    id: str

    def encode(self) -> str:
        return f"{self.started_at.isoformat()}~{self.id}"

    @classmethod
    def decode(cls, cursor: str) -> LogPosition:
        moment, _, event_id = cursor.partition("~")
        try:
            started_at = as_utc(datetime.fromisoformat(moment))
        except ValueError:
            raise InvalidInput(N_("not a position in the usage log"), param="after") from None
        if not event_id:
            raise InvalidInput(N_("not a position in the usage log"), param="after")
        return cls(started_at, event_id)


@dataclass(frozen=True)
class LoggedRequest:
    id: str
    started_at: datetime
    endpoint: str
    model: str | None
    key_id: str | None
    status_code: int
    error_type: str | None
    input_tokens: int
    output_tokens: int
    cost: int
    latency_ms: int
    stream: bool
    end_user: str | None = None
    session_id: str | None = None


@dataclass(frozen=True)
class LogPage:
    requests: list[LoggedRequest]
    # Where the next page starts; None on the last page.
    next: LogPosition | None


async def usage_log(
    conn: AsyncConnection,
    user_id: str,
    *,
    model: str | None = None,
    status_class: str | None = None,
    end_user: str | None = None,
    session_id: str | None = None,
    after: LogPosition | None = None,
    limit: int = 50,
) -> LogPage:
    """The person's usage events, newest first, filtered by the requested model, the
    first digit of the HTTP status, the end user and the session."""
    if status_class is not None and status_class not in STATUS_CLASSES:
        raise InvalidInput(N_("the status is 2, 4 or 5"), param="status")
    events = usage_events.c
    query = (
        select(
            events.id,
            events.started_at,
            events.endpoint,
            events.requested_model,
            events.key_id,
            events.status_code,
            events.error_type,
            events.input_tokens,
            events.output_tokens,
            events.cost,
            events.latency_ms,
            events.stream,
            events.end_user,
            events.session_id,
        )
        .where(events.user_id == user_id)
        .order_by(events.started_at.desc(), events.id.desc())
        .limit(limit + 1)
    )
    if model is not None:
        query = query.where(events.requested_model == model)
    if end_user is not None:
        query = query.where(events.end_user == end_user)
    if session_id is not None:
        query = query.where(events.session_id == session_id)
    if status_class is not None:
        low = int(status_class) * 100
        query = query.where(events.status_code >= low, events.status_code < low + 100)
    if after is not None:
        query = query.where(
            or_(
                events.started_at < after.started_at,
                and_(events.started_at == after.started_at, events.id < after.id),
            )
        )
    rows = (await conn.execute(query)).all()
    found = [
        LoggedRequest(
            id=row.id,
            started_at=as_utc(row.started_at),
            endpoint=row.endpoint,
            model=row.requested_model,
            key_id=row.key_id,
            status_code=row.status_code,
            error_type=row.error_type,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cost=row.cost,
            latency_ms=row.latency_ms,
            stream=row.stream,
            end_user=row.end_user,
            session_id=row.session_id,
        )
        for row in rows[:limit]
    ]
    last = found[-1] if len(rows) > limit else None
    return LogPage(found, None if last is None else LogPosition(last.started_at, last.id))
