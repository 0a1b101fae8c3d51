"""Sign-up abuse: many accounts signed up from one network (its /24, or /48 for IPv6)
within the last hour, as scripts farming a sign-up bonus make them. Read from the audit
log: a sign-up creates its user with the new person as the actor, who has no user id
yet, and the address they came from. The network is the finding's subject; no
organization owns it, so operators review these. Per-address throttling
(`AISONAR_SIGNUPS_PER_IP_PER_HOUR`) stops one address; this sees one network's many."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.abuse.models import FindingKind, Signal, SubjectKind
from aisonar.accounts.services import network_of
from aisonar.store.tables import audit_log

WINDOW = timedelta(hours=1)
USER_CREATED = "user.create"
# An hour's sign-ups are read up to this many.
_READ = 100_000


async def sign_up_networks(conn: AsyncConnection, now: datetime, floor: int) -> list[Signal]:
    a = audit_log.c
    rows = await conn.execute(
        select(a.ip, a.object_id)
        .where(
            a.action == USER_CREATED,
            a.actor_user_id.is_(None),
            a.ip.is_not(None),
            a.at > now - WINDOW,
            a.at <= now,
        )
        .limit(_READ)
    )
    accounts: dict[str, set[str]] = defaultdict(set)
    addresses: dict[str, set[str]] = defaultdict(set)
    for address, user_id in rows:
        network = network_of(address)
        if network is not None:
            accounts[network].add(user_id)
            addresses[network].add(address)
    return [
        Signal(
            FindingKind.SIGN_UP_ABUSE,
            SubjectKind.NETWORK,
            network,
            {
                "accounts": len(made),
                "addresses": len(addresses[network]),
                "floor": floor,
                "window_minutes": int(WINDOW.total_seconds() // 60),
            },
            window_start=now.replace(minute=0, second=0, microsecond=0),
        )
        for network, made in sorted(accounts.items())
        if len(made) >= floor
    ]
