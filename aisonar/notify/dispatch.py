"""Fan-out: each new notice becomes one delivery per mailbox and webhook endpoint that
should hear of it. A notice for a person reaches them; an organization's notice reaches
its admins. People's opt-outs are honoured, except for security notices; an endpoint
receives the kinds it subscribed to. A notice limited to some channels (an alert rule's)
goes by those alone. A change of email address is also mailed to the address it
replaced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.notify.models import DeliveryStatus
from aisonar.notify.notices import (
    EMAIL_CHANGED,
    PRIVATE_KINDS,
    REACH_DISABLED_KINDS,
    SECURITY_KINDS,
    Channel,
)
from aisonar.store.claims import claim
from aisonar.store.roles import Role
from aisonar.store.tables import (
    notice_deliveries,
    notice_opt_outs,
    notices,
    users,
    webhook_endpoints,
)


async def _mailboxes(conn: AsyncConnection, notice: Any) -> list[str]:
    """The users an email of this notice goes to."""
    query = select(users.c.id)
    if notice.kind not in REACH_DISABLED_KINDS:
        query = query.where(users.c.disabled_at.is_(None))
    if notice.user_id is not None:
        query = query.where(users.c.id == notice.user_id)
    else:
        query = query.where(users.c.org_id == notice.org_id, users.c.role == Role.ORG_ADMIN)
    recipients = list((await conn.execute(query)).scalars())
    return await _not_opted_out(conn, recipients, notice.kind, Channel.EMAIL)


async def _not_opted_out(
    conn: AsyncConnection, user_ids: list[str], kind: str, channel: Channel
) -> list[str]:
    if kind in SECURITY_KINDS or not user_ids:
        return user_ids
    opted_out = set(
        (
            await conn.execute(
                select(notice_opt_outs.c.user_id).where(
                    notice_opt_outs.c.user_id.in_(user_ids),
                    notice_opt_outs.c.kind == kind,
                    notice_opt_outs.c.channel == channel.value,
                )
            )
        ).scalars()
    )
    return [user_id for user_id in user_ids if user_id not in opted_out]


async def _endpoints(conn: AsyncConnection, notice: Any) -> list[str]:
    """The organization's endpoints that take this kind, unless the person the notice is
    about opted out of webhooks for it, or it is between them and the operators."""
    if notice.kind in PRIVATE_KINDS or not notice.by_webhook:
        return []
    if notice.user_id is not None and not await _not_opted_out(
        conn, [notice.user_id], notice.kind, Channel.WEBHOOK
    ):
        return []
    rows = await conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.kinds).where(
            webhook_endpoints.c.org_id == notice.org_id,
            webhook_endpoints.c.deleted_at.is_(None),
            # An endpoint hears of what happens from its creation on.
            webhook_endpoints.c.created_at <= notice.created_at,
        )
    )
    return [row.id for row in rows if row.kinds is None or notice.kind in row.kinds]


def _email_targets(notice: Any, user_ids: list[str]) -> list[dict[str, Any]]:
    """One email per recipient at their current address; and for a change of address,
    one more to the previous address, whose owner must hear of it if it was not them."""
    targets = [
        {"channel": Channel.EMAIL.value, "endpoint_id": None, "user_id": user_id, "address": None}
        for user_id in user_ids
    ]
    previous = notice.data.get("previous_email") if notice.kind == EMAIL_CHANGED else None
    if previous and notice.user_id in user_ids:
        targets.append(
            {
                "channel": Channel.EMAIL.value,
                "endpoint_id": None,
                "user_id": notice.user_id,
                "address": previous,
            }
        )
    return targets


async def dispatch(conn: AsyncConnection, now: datetime, *, email: bool, limit: int = 200) -> int:
    """Turn up to `limit` undispatched notices into deliveries; returns how many were
    created. Each notice is claimed first, so servers sharing the database never send one
    twice."""
    pending = await conn.execute(
        select(
            notices.c.id,
            notices.c.org_id,
            notices.c.user_id,
            notices.c.kind,
            notices.c.data,
            notices.c.created_at,
            notices.c.by_email,
            notices.c.by_webhook,
        )
        .where(notices.c.dispatched_at.is_(None))
        .order_by(notices.c.id)
        .limit(limit)
    )
    created = 0
    for notice in list(pending):
        if not await claim(conn, notices.c.dispatched_at, notice.id, now):
            continue
        targets = [
            {
                "channel": Channel.WEBHOOK.value,
                "endpoint_id": endpoint_id,
                "user_id": None,
                "address": None,
            }
            for endpoint_id in await _endpoints(conn, notice)
        ]
        if email and notice.by_email:
            targets += _email_targets(notice, await _mailboxes(conn, notice))
        if targets:
            await conn.execute(
                insert(notice_deliveries),
                [
                    {
                        **target,
                        "notice_id": notice.id,
                        "status": DeliveryStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for target in targets
                ],
            )
        created += len(targets)
    return created
