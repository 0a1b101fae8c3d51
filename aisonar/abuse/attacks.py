"""Credential attacks from one address, over the last ten minutes: presenting keys the
gateway does not know (key scanning: the refusals every server tallied), and failing to
sign in to many accounts (credential stuffing: the failed sign-ins the audit log keeps,
each naming the account tried). The address is the finding's subject; no organization
owns it, so operators review these."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.abuse.models import FindingKind, Signal, SubjectKind
from aisonar.abuse.tallies import KEY_REFUSED
from aisonar.store.tables import abuse_tallies, audit_log

WINDOW = timedelta(minutes=10)
SIGN_IN_FAILED = "session.sign_in_failed"


def _window_start(now: datetime) -> datetime:
    """The ten minutes `now` is in: one finding per address and ten minutes at most."""
    return now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)


def _minutes() -> int:
    return int(WINDOW.total_seconds() // 60)


async def scanning_addresses(conn: AsyncConnection, now: datetime, floor: int) -> list[Signal]:
    t = abuse_tallies.c
    total = func.sum(t.count)
    rows = await conn.execute(
        select(t.subject, total)
        .where(t.kind == KEY_REFUSED, t.at > now - WINDOW, t.at <= now)
        .group_by(t.subject)
        .having(total >= floor)
    )
    return [
        Signal(
            FindingKind.KEY_SCANNING,
            SubjectKind.ADDRESS,
            address,
            {"refused_keys": int(refused), "floor": floor, "window_minutes": _minutes()},
            window_start=_window_start(now),
        )
        for address, refused in rows
    ]


async def stuffing_addresses(conn: AsyncConnection, now: datetime, floor: int) -> list[Signal]:
    a = audit_log.c
    accounts = func.count(a.object_id.distinct())
    rows = await conn.execute(
        select(a.ip, accounts, func.count())
        .where(a.action == SIGN_IN_FAILED, a.at > now - WINDOW, a.at <= now, a.ip.is_not(None))
        .group_by(a.ip)
        .having(accounts >= floor)
    )
    return [
        Signal(
            FindingKind.CREDENTIAL_STUFFING,
            SubjectKind.ADDRESS,
            address,
            {
                "accounts": int(tried),
                "failed_sign_ins": int(failures),
                "floor": floor,
                "window_minutes": _minutes(),
            },
            window_start=_window_start(now),
        )
        for address, tried, failures in rows
    ]
