"""Attribution rollups: an organization's usage summed per day by end user, and per hour
and day by each custom property it marks as a dimension
(`organizations.dimension_properties`, at most `MOST_MARKED`), so that a summary grouped
or filtered by one reads a row per value and bucket rather than the raw events. End
users have no hours: an application's end users each make a few requests an hour, so
their hours would add about a row per request; a range or series in hours by end user
reads the raw events.

The usage writer adds each batch to its hours and days in the transaction that writes
the raw events, reading the batch's organizations' marked properties there: a request
counts as soon as it is written, with no compaction step. An end user or value the
request lacks is "". Only marked properties are rolled up, which keeps the rows bounded:
an organization picks the few properties worth a dimension (a feature, a team), not an
open-ended tag.

Rows are rebuilt from the raw events, which they mirror, when that changes what they
must hold: a property newly marked (its history, as far as retention has kept the
events), an end user forgotten or a person erased (the days of their events), and the
day retention cuts its organization's events in (the rows before it go, like the events).
A rebuild takes compaction's watermark lock exclusively on PostgreSQL, which the writers
take shared, so that no batch is counted twice or missed; SQLite has one writer anyway."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
    String,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.accounts.directory import get_org
from aisonar.audit import services as audit
from aisonar.audit.models import Actor
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.store.engine import placeholders
from aisonar.store.tables import attribution_rollups, organizations, usage_events
from aisonar.usage.compaction import WATERMARK_LOCK_KEY, floor
from aisonar.usage.event_sums import bucket_start, event_sums, property_value
from aisonar.usage.models import UsageEvent
from aisonar.usage.rollups import DAY, HOUR, SUM_COLUMNS, add_event

END_USER = "end_user"
PROPERTY = "property:"
MOST_MARKED = 5


def granularities(dimension: str) -> tuple[int, ...]:
    """What a dimension's rows are kept per."""
    return (DAY,) if dimension == END_USER else (HOUR, DAY)


# A property's name as summaries take it (`analytics.summary`).
_NAME = re.compile(r'[^"\\\x00-\x1f\x7f]{1,64}')
_KEY_COLUMNS = ("granularity", "org_id", "dimension", "value", "bucket_start")
_COLUMNS = (*_KEY_COLUMNS, *SUM_COLUMNS)

# (granularity, organization, dimension, value, bucket start in epoch seconds) -> sums
Key = tuple[int, str, str, str, int]
Sums = dict[Key, list[int]]


def dimension_of(name: str) -> str:
    """The `dimension` of a marked property's rows."""
    return PROPERTY + name


def _text(value: object) -> str:
    """A property's value as its rows hold it: a string as it is, another JSON value as
    its JSON text (PostgreSQL's `->>` reads them so), none as ""."""
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _add(sums: Sums, key: Key, event: UsageEvent) -> None:
    row = sums.get(key)
    if row is None:
        row = sums[key] = [0] * len(SUM_COLUMNS)
    add_event(row, event)


def aggregate(events: Iterable[UsageEvent], marked: Mapping[str, Sequence[str]]) -> Sums:
    """The events of organizations summed per day by end user, and per hour and day by
    each of their organization's marked properties (`marked`: organization -> names)."""
    sums: Sums = {}
    hours: Sums = {}
    for event in events:
        org_id = event.org_id
        if org_id is None:
            continue
        seconds = int(event.started_at.timestamp())
        _add(sums, (DAY, org_id, END_USER, event.end_user or "", seconds - seconds % DAY), event)
        names = marked.get(org_id)
        if names:
            found = orjson.loads(event.properties) if event.properties else None
            properties = found if isinstance(found, dict) else {}
            hour = seconds - seconds % HOUR
            for name in names:
                value = _text(properties.get(name))
                _add(hours, (HOUR, org_id, dimension_of(name), value, hour), event)
    for (_, org_id, dimension, value, hour), row in hours.items():
        key = (DAY, org_id, dimension, value, hour - hour % DAY)
        total = sums.get(key)
        if total is None:
            sums[key] = list(row)
        else:
            for index, amount in enumerate(row):
                total[index] += amount
    sums.update(hours)
    return sums


def upsert_statement(sqlite_placeholders: bool) -> str:
    additions = ", ".join(
        f"{name} = attribution_rollups.{name} + excluded.{name}" for name in SUM_COLUMNS
    )
    return (
        f"INSERT INTO attribution_rollups ({', '.join(_COLUMNS)}) "
        f"VALUES ({placeholders(len(_COLUMNS), sqlite_placeholders)}) "
        f"ON CONFLICT ({', '.join(_KEY_COLUMNS)}) DO UPDATE SET {additions}"
    )


def rows(sums: Sums, time_value: Any) -> list[tuple[Any, ...]]:
    """The upsert's parameters, sorted by key so that concurrent writers lock rows in one
    order; `time_value` turns a bucket's start into what the driver takes."""
    found = [
        (granularity, org_id, dimension, value, datetime.fromtimestamp(start, UTC), *values)
        for (granularity, org_id, dimension, value, start), values in sums.items()
    ]
    found.sort(key=lambda row: row[:5])
    return [(*row[:4], time_value(row[4]), *row[5:]) for row in found]


async def marked_properties(
    conn: AsyncConnection, org_ids: Iterable[str]
) -> dict[str, tuple[str, ...]]:
    """The properties each organization marks as dimensions (those marking any)."""
    found = await conn.execute(
        select(organizations.c.id, organizations.c.dimension_properties).where(
            organizations.c.id.in_(sorted(set(org_ids))),
            organizations.c.dimension_properties.is_not(None),
        )
    )
    return {org_id: tuple(names) for org_id, names in found if names}


async def add_events(
    conn: AsyncConnection, events: Sequence[UsageEvent], statement: str, time_value: Any
) -> None:
    """Add a batch the writer is inserting to its hours and days (`statement`: the
    upsert for the driver's placeholders), in the writer's transaction."""
    org_ids = {event.org_id for event in events if event.org_id is not None}
    if not org_ids:
        return
    sums = aggregate(events, await marked_properties(conn, org_ids))
    await conn.exec_driver_sql(statement, rows(sums, time_value))


def rebuild_statements(
    dialect: str,
    org_id: str | None,
    dimension: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Executable]:
    """The rows of `dimension` in [since, until) (whole days; None: unbounded), of one
    organization or (None) every one, summed anew from the raw events: each
    granularity's rows from an INSERT ... SELECT, the old ones deleted first."""
    table, events = attribution_rollups, usage_events
    conditions: list[ColumnElement[bool]] = [table.c.dimension == dimension]
    wanted: list[ColumnElement[bool]] = [events.c.org_id.is_not(None)]
    if org_id is not None:
        conditions.append(table.c.org_id == org_id)
        wanted.append(events.c.org_id == org_id)
    if since is not None:
        conditions.append(table.c.bucket_start >= since)
        wanted.append(events.c.started_at >= since)
    if until is not None:
        conditions.append(table.c.bucket_start < until)
        wanted.append(events.c.started_at < until)
    if dimension == END_USER:
        value = func.coalesce(events.c.end_user, "")
    else:
        value = func.coalesce(property_value(dimension.removeprefix(PROPERTY)), "")
    statements: list[Executable] = [delete(table).where(*conditions)]
    for granularity in granularities(dimension):
        query = (
            select(
                literal(granularity, Integer),
                events.c.org_id,
                literal(dimension, String),
                value,
                bucket_start(dialect, granularity),
                *event_sums(),
            )
            .where(*wanted)
            # By position: PostgreSQL takes an expression with bound values (a
            # property's name) in GROUP BY as another than the selected one.
            .group_by(events.c.org_id, literal_column("4"), literal_column("5"))
        )
        statements.append(insert(table).from_select(list(_COLUMNS), query))
    return statements


async def _lock_out_writers(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"SELECT pg_advisory_xact_lock({WATERMARK_LOCK_KEY})"))


async def _dimensions(conn: AsyncConnection, org_id: str) -> list[str]:
    marked = (await marked_properties(conn, [org_id])).get(org_id, ())
    return [END_USER, *(dimension_of(name) for name in marked)]


async def rebuild(
    conn: AsyncConnection,
    org_id: str,
    dimensions: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> None:
    """The organization's rows of `dimensions` (default: all it has) in [since, until)
    summed anew from its events, the writers kept out meanwhile."""
    await _lock_out_writers(conn)
    for dimension in dimensions if dimensions is not None else await _dimensions(conn, org_id):
        for statement in rebuild_statements(conn.dialect.name, org_id, dimension, since, until):
            await conn.execute(statement)


async def rebuild_days(
    conn: AsyncConnection, spans: Iterable[tuple[str, datetime, datetime]]
) -> None:
    """After events' attribution changed: each organization's rows of the days from its
    first changed event to its last (`spans`: organization, first, last)."""
    for org_id, first, last in spans:
        await rebuild(conn, org_id, None, floor(first, DAY), floor(last, DAY) + timedelta(days=1))


async def spans_of(
    conn: AsyncConnection, condition: ColumnElement[bool]
) -> list[tuple[str, datetime, datetime]]:
    """(organization, first, last start) of the events `condition` picks, per organization:
    what `rebuild_days` takes once their attribution is changed."""
    e = usage_events.c
    found = await conn.execute(
        select(e.org_id, func.min(e.started_at), func.max(e.started_at))
        .where(condition, e.org_id.is_not(None))
        .group_by(e.org_id)
    )
    return [(org_id, first, last) for org_id, first, last in found]


async def forget_before(
    engine: AsyncEngine, org_id: str, before: datetime, *, events_deleted: bool
) -> int:
    """Retention: the organization's rows before the day of `before` deleted, and, when
    the run deleted some of its events, that day's rebuilt from the events left; how
    many rows went."""
    day = floor(before, DAY)
    table = attribution_rollups
    async with engine.begin() as conn:
        deleted = await conn.execute(
            delete(table).where(
                table.c.granularity.in_((HOUR, DAY)),
                table.c.org_id == org_id,
                table.c.bucket_start < day,
            )
        )
    if events_deleted:
        async with engine.begin() as conn:
            await rebuild(conn, org_id, None, day, day + timedelta(days=1))
    return deleted.rowcount


def _valid(names: Sequence[str]) -> list[str]:
    wanted = sorted(set(names))
    if len(wanted) > MOST_MARKED:
        raise InvalidInput(
            N_("an organization marks at most {count} properties as dimensions"),
            param="dimension_properties",
            count=MOST_MARKED,
        )
    for name in wanted:
        if not _NAME.fullmatch(name):
            raise InvalidInput(
                N_(
                    "a property name is 1 to 64 printable characters, without quotes or backslashes"
                ),
                param="dimension_properties",
            )
    return wanted


async def mark_properties(
    conn: AsyncConnection, actor: Actor, org_id: str, names: Sequence[str]
) -> list[str]:
    """Make `names` the organization's dimension properties (an empty list: none): rows
    for a newly marked one are built from the events retention has kept, those of an
    unmarked one deleted. Audited; the names afterwards, sorted."""
    wanted = _valid(names)
    await get_org(conn, org_id)
    await _lock_out_writers(conn)
    stored = await conn.scalar(
        select(organizations.c.dimension_properties).where(organizations.c.id == org_id)
    )
    before = sorted(stored or [])
    if wanted == before:
        return wanted
    await conn.execute(
        update(organizations)
        .where(organizations.c.id == org_id)
        .values(dimension_properties=wanted or None)
    )
    table = attribution_rollups
    unmarked = [dimension_of(name) for name in before if name not in wanted]
    await conn.execute(
        delete(table).where(table.c.org_id == org_id, table.c.dimension.in_(unmarked))
    )
    await rebuild(conn, org_id, [dimension_of(name) for name in wanted if name not in before])
    await audit.record(
        conn,
        actor,
        "org.update",
        object_kind="org",
        object_id=org_id,
        org_id=org_id,
        changes=audit.changed(
            {"dimension_properties": before or None}, {"dimension_properties": wanted or None}
        ),
    )
    return wanted
