"""Notices: events people should hear about, stored (in the transaction of the event)
and delivered from here: the in-app inbox reads them, and the notifier sends them by
email and webhook. A notice with a user is theirs; one without belongs to the
organization and reaches its admins."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.clock import as_utc, utcnow
from aisonar.store.tables import notice_opt_outs, notices

BALANCE_LOW = "balance_low"
BALANCE_EXHAUSTED = "balance_exhausted"
RECHARGE_RECEIVED = "recharge_received"
PLAN_CHANGED = "plan_changed"
KEY_CREATED = "key_created"
KEY_REVOKED = "key_revoked"
KEY_ROTATED = "key_rotated"
KEY_EXPIRING = "key_expiring"
PASSWORD_CHANGED = "password_changed"
# Also mailed to the previous address (its `previous_email`), so a hijack is noticed.
EMAIL_CHANGED = "email_changed"
ROLE_CHANGED = "role_changed"
SIGN_IN_FROM_NEW_ADDRESS = "sign_in_from_new_address"
ALERT_FIRING = "alert_firing"
ALERT_RESOLVED = "alert_resolved"
# A request to delete one's account, received and rejected (its completion is mailed
# directly, with the receipt: `privacy/erasure_job.py`).
DELETION_REQUESTED = "deletion_requested"
DELETION_REJECTED = "deletion_rejected"
# An operator answered the person's support request (the answer is in it).
SUPPORT_REPLY = "support_reply"
# Abuse detection found a key shared or attacked (`abuse/`): the evidence, as figures.
ABUSE_FINDING = "abuse_finding"
# A material change to the privacy policy or terms (one per person, `privacy/policies.py`):
# always delivered, since people must learn of a change to what they accepted.
POLICY_CHANGED = "policy_changed"
# Their name or company changed (the fields, not the values).
PROFILE_CHANGED = "profile_changed"
# Always delivered, whatever the person's preferences.
SECURITY_KINDS = frozenset(
    {
        KEY_CREATED,
        KEY_REVOKED,
        KEY_ROTATED,
        PASSWORD_CHANGED,
        EMAIL_CHANGED,
        ROLE_CHANGED,
        SIGN_IN_FROM_NEW_ADDRESS,
        ABUSE_FINDING,
        DELETION_REQUESTED,
        DELETION_REJECTED,
        POLICY_CHANGED,
    }
)
# Mailed to their person even though the account is disabled (asking for deletion
# disables it).
REACH_DISABLED_KINDS = frozenset({DELETION_REQUESTED, DELETION_REJECTED})
# Between the person and the operators: never sent to their organization's webhooks.
# (A policy change is installation-wide, not the organization's business.)
PRIVATE_KINDS = frozenset({SUPPORT_REPLY, POLICY_CHANGED})


class Channel(StrEnum):
    """How a notice reaches people."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    INBOX = "inbox"


ALL_CHANNELS = frozenset(Channel)


@dataclass(frozen=True)
class Notice:
    id: int
    org_id: str
    user_id: str | None
    kind: str
    data: dict[str, Any]
    created_at: datetime


def _notice(row: Any) -> Notice:
    return Notice(row.id, row.org_id, row.user_id, row.kind, dict(row.data), as_utc(row.created_at))


async def record_notice(
    conn: AsyncConnection,
    org_id: str,
    kind: str,
    data: dict[str, Any],
    user_id: str | None = None,
    *,
    channels: Collection[Channel] = ALL_CHANNELS,
) -> int:
    """Store a notice that goes out by the given channels; returns its id."""
    stored = await conn.execute(
        insert(notices)
        .values(
            org_id=org_id,
            user_id=user_id,
            kind=kind,
            data=data,
            created_at=utcnow(),
            by_email=Channel.EMAIL in channels,
            by_webhook=Channel.WEBHOOK in channels,
            to_inbox=Channel.INBOX in channels,
        )
        .returning(notices.c.id)
    )
    return int(stored.scalar_one())


async def record_notices(
    conn: AsyncConnection, kind: str, data: dict[str, Any], people: Sequence[tuple[str, str]]
) -> None:
    """The same notice for each person, given as (organization id, user id), in one
    statement."""
    now = utcnow()
    await conn.execute(
        insert(notices),
        [
            {"org_id": org_id, "user_id": user_id, "kind": kind, "data": data, "created_at": now}
            for org_id, user_id in people
        ],
    )


async def list_notices(
    conn: AsyncConnection,
    org_id: str | None = None,
    *,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Notice]:
    """The newest `limit` notices, of one organization or all; `before_id` pages back
    from a notice seen."""
    query = select(notices).order_by(notices.c.id.desc()).limit(limit)
    if org_id is not None:
        query = query.where(notices.c.org_id == org_id)
    if before_id is not None:
        query = query.where(notices.c.id < before_id)
    return [_notice(row) for row in await conn.execute(query)]


def in_inbox(*, user_id: str, org_id: str, org_admin: bool) -> ColumnElement[bool]:
    """Whether a notice is in the person's inbox: their own, and their organization's
    when they administer it; but for the kinds they took out of their inbox, and the
    notices that do not go to inboxes."""
    mine = notices.c.user_id == user_id
    if org_admin:
        mine = or_(mine, and_(notices.c.org_id == org_id, notices.c.user_id.is_(None)))
    hidden = select(notice_opt_outs.c.kind).where(
        notice_opt_outs.c.user_id == user_id,
        notice_opt_outs.c.channel == Channel.INBOX.value,
        notice_opt_outs.c.kind.not_in(SECURITY_KINDS),
    )
    return and_(mine, notices.c.to_inbox.is_(True), notices.c.kind.not_in(hidden))


async def inbox(
    conn: AsyncConnection,
    *,
    user_id: str,
    org_id: str,
    org_admin: bool,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Notice]:
    """A person's notices, newest first: their own, and their organization's when they
    administer it; but for the kinds they took out of their inbox."""
    query = (
        select(notices)
        .where(in_inbox(user_id=user_id, org_id=org_id, org_admin=org_admin))
        .order_by(notices.c.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(notices.c.id < before_id)
    return [_notice(row) for row in await conn.execute(query)]
