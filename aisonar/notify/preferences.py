"""Which notices reach a person by which channel, and in which language. Everything is
on until they opt out; security notices always go out. Changes are audited."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.errors import InvalidInput
from aisonar.i18n import N_, Language
from aisonar.notify.notices import (
    ABUSE_FINDING,
    ALERT_FIRING,
    ALERT_RESOLVED,
    BALANCE_EXHAUSTED,
    BALANCE_LOW,
    DELETION_REJECTED,
    DELETION_REQUESTED,
    EMAIL_CHANGED,
    KEY_CREATED,
    KEY_EXPIRING,
    KEY_REVOKED,
    KEY_ROTATED,
    PASSWORD_CHANGED,
    PLAN_CHANGED,
    POLICY_CHANGED,
    PROFILE_CHANGED,
    RECHARGE_RECEIVED,
    ROLE_CHANGED,
    SECURITY_KINDS,
    SIGN_IN_FROM_NEW_ADDRESS,
    SUPPORT_REPLY,
    Channel,
)
from aisonar.store.tables import notice_opt_outs, users

KINDS = (
    KEY_CREATED,
    KEY_REVOKED,
    KEY_ROTATED,
    KEY_EXPIRING,
    PASSWORD_CHANGED,
    EMAIL_CHANGED,
    ROLE_CHANGED,
    SIGN_IN_FROM_NEW_ADDRESS,
    ABUSE_FINDING,
    DELETION_REQUESTED,
    DELETION_REJECTED,
    POLICY_CHANGED,
    PROFILE_CHANGED,
    BALANCE_LOW,
    BALANCE_EXHAUSTED,
    RECHARGE_RECEIVED,
    PLAN_CHANGED,
    ALERT_FIRING,
    ALERT_RESOLVED,
    SUPPORT_REPLY,
)


@dataclass(frozen=True)
class Preferences:
    language: Language
    # kind -> channel -> on
    kinds: dict[str, dict[Channel, bool]]


async def preferences(conn: AsyncConnection, user_id: str) -> Preferences:
    language = (
        await conn.execute(select(users.c.language).where(users.c.id == user_id))
    ).scalar_one()
    off = {
        (row.kind, row.channel)
        for row in await conn.execute(
            select(notice_opt_outs).where(notice_opt_outs.c.user_id == user_id)
        )
    }
    kinds = {
        kind: {channel: (kind, channel.value) not in off for channel in Channel} for kind in KINDS
    }
    return Preferences(Language(language), kinds)


async def set_preferences(
    conn: AsyncConnection,
    user_id: str,
    *,
    language: Language | None = None,
    kinds: Mapping[str, Mapping[Channel, bool]] | None = None,
    actor: Actor = SYSTEM,
) -> Preferences:
    """Change the language and the given kinds' channels; the rest stay as they are."""
    for kind, channels in (kinds or {}).items():
        if kind not in KINDS:
            raise InvalidInput(N_("unknown notice kind {kind!r}"), param="kinds", kind=kind)
        if kind in SECURITY_KINDS and not all(channels.values()):
            raise InvalidInput(
                N_("{kind} is a security notice: it always goes out"), param="kinds", kind=kind
            )
    before = await preferences(conn, user_id)
    if language is not None:
        await conn.execute(update(users).where(users.c.id == user_id).values(language=language))
    for kind, channels in (kinds or {}).items():
        for channel, on in channels.items():
            mine = (
                (notice_opt_outs.c.user_id == user_id)
                & (notice_opt_outs.c.kind == kind)
                & (notice_opt_outs.c.channel == channel.value)
            )
            await conn.execute(delete(notice_opt_outs).where(mine))
            if not on:
                await conn.execute(
                    insert(notice_opt_outs).values(
                        user_id=user_id, kind=kind, channel=channel.value
                    )
                )
    after = await preferences(conn, user_id)
    await _audit_change(conn, actor, user_id, before, after)
    return after


def _flat(found: Preferences) -> dict[str, str | bool]:
    """`language` and one `<kind>.<channel>` switch each, as the audit log shows them."""
    switches = {
        f"{kind}.{channel.value}": on
        for kind, channels in found.kinds.items()
        for channel, on in channels.items()
    }
    return {"language": found.language.value, **switches}


async def _audit_change(
    conn: AsyncConnection, actor: Actor, user_id: str, before: Preferences, after: Preferences
) -> None:
    changes = audit.changed(_flat(before), _flat(after))
    if not changes:
        return
    org_id = (await conn.execute(select(users.c.org_id).where(users.c.id == user_id))).scalar_one()
    await audit.record(
        conn,
        actor,
        "notification_settings.update",
        object_kind="user",
        object_id=user_id,
        org_id=org_id,
        changes=changes,
    )
