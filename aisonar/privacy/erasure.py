"""Erasing a person: everything that names them, or says where they were, is deleted or
overwritten; the user row stays, anonymized (a random placeholder address, no name, no
password), so that what must be kept (ledger entries, usage metadata, audit entries)
still refers to the same id, which now names nobody. User agents are not stored anywhere,
so there are none to erase."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, cast, delete, func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.clock import utcnow
from aisonar.store.changes import KEY_ENTITY, record_change
from aisonar.store.tables import (
    abuse_findings,
    access_tokens,
    api_keys,
    audit_log,
    consents,
    deletion_requests,
    email_changes,
    notice_deliveries,
    notice_opt_outs,
    notices,
    password_resets,
    policies,
    policy_acknowledgements,
    rate_limits,
    sessions,
    support_messages,
    support_requests,
    usage_events,
    users,
)
from aisonar.usage.attribution_rollups import rebuild_days, spans_of

ERASED = "[erased]"
# Fields of audit entries about a person that hold their address or name.
_IDENTITY_FIELDS = {
    "email": "emails",
    "requested_email": "emails",
    "name": "names",
    "company": "names",
}
# Shorter names are left alone inside longer text: they would match too much.
_MIN_NAME_LENGTH = 3


def placeholder_email() -> str:
    """A unique address that names nobody and can receive nothing (`.invalid`)."""
    return f"deleted-{secrets.token_hex(8)}@deleted.invalid"


@dataclass
class Identity:
    """What names the person or says where they were, gathered before it is erased."""

    emails: set[str]
    names: set[str]
    ips: set[str]


async def _identity(conn: AsyncConnection, user_id: str) -> Identity:
    person = (
        await conn.execute(
            select(users.c.email, users.c.name, users.c.company).where(users.c.id == user_id)
        )
    ).one()
    found = Identity({person.email}, {person.name, person.company or ""} - {""}, set())
    pending = await conn.execute(
        select(email_changes.c.email).where(email_changes.c.user_id == user_id)
    )
    found.emails.update(pending.scalars())
    about = await conn.execute(
        select(audit_log.c.changes).where(
            audit_log.c.object_kind == "user", audit_log.c.object_id == user_id
        )
    )
    for changes in about.scalars():
        for field, kind in _IDENTITY_FIELDS.items():
            for value in changes.get(field) or []:
                if isinstance(value, str) and value:
                    getattr(found, kind).add(value)
    for column, where in (
        (sessions.c.ip, sessions.c.user_id == user_id),
        (usage_events.c.client_ip, usage_events.c.user_id == user_id),
        (audit_log.c.ip, audit_log.c.actor_user_id == user_id),
    ):
        rows = await conn.execute(select(column).distinct().where(where, column.is_not(None)))
        found.ips.update(rows.scalars())
    return found


def _scrubbed(value: Any, identity: Identity, anonymous: str) -> Any:
    """The value with the person's addresses replaced by `anonymous`, and their names
    and IP addresses by ERASED, however deep in lists and objects."""
    if isinstance(value, dict):
        return {key: _scrubbed(item, identity, anonymous) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, identity, anonymous) for item in value]
    if not isinstance(value, str):
        return value
    for email in identity.emails:
        value = value.replace(email, anonymous)
    for name in identity.names:
        if value == name or len(name) >= _MIN_NAME_LENGTH:
            value = value.replace(name, ERASED)
    for ip in identity.ips:
        value = value.replace(ip, ERASED)
    return value


async def _scrub_audit(
    conn: AsyncConnection, user_id: str, identity: Identity, anonymous: str, objects: list[str]
) -> int:
    """Entries by the person (or by someone signing in as them), about them or their keys,
    tokens and sessions, or naming their address: no address, name or IP of theirs left."""
    emails = sorted(identity.emails)
    by_them = or_(audit_log.c.actor_user_id == user_id, audit_log.c.actor.in_(emails))
    mentions = [
        cast(audit_log.c.changes, Text).contains(email, autoescape=True) for email in emails
    ]
    rows = list(
        await conn.execute(
            select(audit_log).where(
                or_(by_them, audit_log.c.object_id.in_([user_id, *objects, *emails]), *mentions)
            )
        )
    )
    for row in rows:
        mine = row.actor_user_id == user_id or row.actor in identity.emails
        await conn.execute(
            update(audit_log)
            .where(audit_log.c.id == row.id)
            .values(
                actor=anonymous if mine else row.actor,
                ip=None if mine or row.ip in identity.ips else row.ip,
                object_id=anonymous[:64] if row.object_id in identity.emails else row.object_id,
                changes=_scrubbed(row.changes, identity, anonymous),
            )
        )
    return len(rows)


async def _delete_notices(
    conn: AsyncConnection, user_id: str, identity: Identity
) -> dict[str, int]:
    theirs = select(notices.c.id).where(notices.c.user_id == user_id)
    deliveries = await conn.execute(
        delete(notice_deliveries).where(
            or_(
                notice_deliveries.c.notice_id.in_(theirs),
                notice_deliveries.c.user_id == user_id,
                notice_deliveries.c.address.in_(sorted(identity.emails)),
            )
        )
    )
    deleted = await conn.execute(delete(notices).where(notices.c.user_id == user_id))
    return {"notices": deleted.rowcount, "notice_deliveries": deliveries.rowcount}


async def _delete_support(conn: AsyncConnection, user_id: str) -> dict[str, int]:
    """Their support requests and every message in them, theirs and the operators'."""
    theirs = select(support_requests.c.id).where(support_requests.c.user_id == user_id)
    messages = await conn.execute(
        delete(support_messages).where(support_messages.c.request_id.in_(theirs))
    )
    requests = await conn.execute(
        delete(support_requests).where(support_requests.c.user_id == user_id)
    )
    return {"support_requests": requests.rowcount, "support_messages": messages.rowcount}


async def _ids(conn: AsyncConnection, column: Any, owner: Any, user_id: str) -> list[str]:
    return list((await conn.execute(select(column).where(owner == user_id))).scalars())


async def erase_person(conn: AsyncConnection, user_id: str, anonymous: str) -> dict[str, int]:
    """Erase the person's data (their address becomes `anonymous`); returns how many
    records of each kind were erased or overwritten."""
    identity = await _identity(conn, user_id)
    objects = [
        *await _ids(conn, api_keys.c.id, api_keys.c.user_id, user_id),
        *await _ids(conn, access_tokens.c.id, access_tokens.c.user_id, user_id),
        *await _ids(conn, sessions.c.id, sessions.c.user_id, user_id),
    ]
    erased = {"audit_entries": await _scrub_audit(conn, user_id, identity, anonymous, objects)}
    erased |= await _delete_notices(conn, user_id, identity)
    erased |= await _delete_support(conn, user_id)
    for name, table in (
        ("sessions", sessions),
        ("access_tokens", access_tokens),
        ("email_changes", email_changes),
        ("password_resets", password_resets),
        ("notification_settings", notice_opt_outs),
        # Their acceptance means nothing once the account names nobody: it goes too.
        ("policy_acknowledgements", policy_acknowledgements),
        ("consents", consents),
        # Findings about their keys, whose evidence names the addresses they used.
        ("abuse_findings", abuse_findings),
    ):
        erased[name] = (
            await conn.execute(delete(table).where(table.c.user_id == user_id))
        ).rowcount
    limits = await conn.execute(
        delete(rate_limits).where(
            rate_limits.c.subject_kind == "user", rate_limits.c.subject_id == user_id
        )
    )
    erased["limits"] = limits.rowcount
    addresses = await conn.execute(
        update(usage_events)
        .where(usage_events.c.user_id == user_id, usage_events.c.client_ip.is_not(None))
        .values(client_ip=None)
    )
    erased["usage_event_addresses"] = addresses.rowcount
    # What their requests were attributed to names their application's users.
    theirs = and_(
        usage_events.c.user_id == user_id,
        or_(
            usage_events.c.end_user.is_not(None),
            usage_events.c.session_id.is_not(None),
            usage_events.c.properties.is_not(None),
        ),
    )
    spans = await spans_of(conn, theirs)
    attributed = await conn.execute(
        update(usage_events).where(theirs).values(end_user=None, session_id=None, properties=null())
    )
    erased["usage_event_attributions"] = attributed.rowcount
    # And the attribution rollups of their days, rebuilt without it.
    await rebuild_days(conn, spans)
    keys = await conn.execute(
        update(api_keys).where(api_keys.c.user_id == user_id).values(name=ERASED, allowed_ips=None)
    )
    erased["api_key_names"] = keys.rowcount
    await conn.execute(
        update(deletion_requests).where(deletion_requests.c.user_id == user_id).values(reason=None)
    )
    await conn.execute(
        update(policies)
        .where(policies.c.published_by.in_(sorted(identity.emails)))
        .values(published_by=anonymous)
    )
    await conn.execute(
        update(abuse_findings)
        .where(abuse_findings.c.reviewed_by.in_(sorted(identity.emails)))
        .values(reviewed_by=anonymous)
    )
    await conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            email=anonymous,
            name="",
            company=None,
            password_hash=None,
            disabled_at=func.coalesce(users.c.disabled_at, utcnow()),
        )
    )
    await record_change(conn, KEY_ENTITY, "*")
    return erased
