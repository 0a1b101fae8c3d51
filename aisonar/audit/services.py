"""The append-only audit log: recorded in the transaction of the change it describes,
so an action and its entry are written together or not at all; never updated. Read by
who may (`audit_scope`): operators every entry, an organization's admins their
organization's, anyone else nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import Actor, AuditEntry, Changes
from aisonar.clock import as_utc, utcnow
from aisonar.errors import Forbidden
from aisonar.i18n import N_
from aisonar.store.tables import audit_log

_LIST_LIMIT = 1000


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> Changes:
    """The fields whose value differs, as {field: [before, after]}."""
    return {
        name: [before.get(name), after.get(name)]
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def created(fields: Mapping[str, Any]) -> Changes:
    return changed({}, fields)


async def record(
    conn: AsyncConnection,
    actor: Actor,
    action: str,
    *,
    object_kind: str,
    object_id: str,
    org_id: str | None = None,
    changes: Changes | None = None,
) -> None:
    await conn.execute(
        insert(audit_log).values(
            at=utcnow(),
            actor=actor.label,
            actor_user_id=actor.user_id,
            ip=actor.ip,
            action=action,
            object_kind=object_kind,
            object_id=object_id,
            org_id=org_id,
            changes=_plain(changes or {}),
        )
    )


def _plain(changes: Changes) -> Changes:
    """JSON-ready: times as ISO 8601 text."""
    return {
        name: [value.isoformat() if isinstance(value, datetime) else value for value in pair]
        for name, pair in changes.items()
    }


def entry_of(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=as_utc(row.at),
        actor=row.actor,
        actor_user_id=row.actor_user_id,
        ip=row.ip,
        action=row.action,
        object_kind=row.object_kind,
        object_id=row.object_id,
        org_id=row.org_id,
        changes=dict(row.changes),
    )


def narrowed(
    *,
    org_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    object_kind: str | None = None,
    object_id: str | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions of the entries asked for (each given one must hold)."""
    conditions: list[ColumnElement[bool]] = []
    for column, value in (
        (audit_log.c.org_id, org_id),
        (audit_log.c.action, action),
        (audit_log.c.actor, actor),
        (audit_log.c.object_kind, object_kind),
        (audit_log.c.object_id, object_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if since is not None:
        conditions.append(audit_log.c.at >= since)
    if until is not None:
        conditions.append(audit_log.c.at < until)
    return conditions


async def list_entries(
    conn: AsyncConnection,
    *,
    org_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = _LIST_LIMIT,
    actor: str | None = None,
    object_kind: str | None = None,
    object_id: str | None = None,
) -> list[AuditEntry]:
    """Newest first; `before_id` pages back from an entry seen. `actor` is the actor's
    label as recorded (an email, `command line`, `system`)."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(min(limit, _LIST_LIMIT))
    query = query.where(
        *narrowed(
            org_id=org_id,
            action=action,
            since=since,
            until=until,
            actor=actor,
            object_kind=object_kind,
            object_id=object_id,
        )
    )
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    return [entry_of(row) for row in await conn.execute(query)]


# Who reads which part of the log, for every front end (the API, the console).
class Reader(Protocol):
    """The signed-in person reading the log (accounts' Principal, which audit sits below)."""

    @property
    def is_operator(self) -> bool: ...

    @property
    def org_id(self) -> str: ...

    def administers(self, org_id: str) -> bool: ...


def audit_scope(reader: Reader) -> str | None:
    """The organization whose entries the reader sees (None: every entry)."""
    if reader.is_operator:
        return None
    if reader.administers(reader.org_id):
        return reader.org_id
    raise Forbidden(N_("Only operators and organization admins may read the audit log."))
