"""Who read which version of the policies. A person needs to acknowledge a kind (the
console shows a banner until they do) when they never acknowledged any version of it, or
when a material version was published after the last one they acknowledged; a minor
version asks nothing of anyone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, utcnow
from aisonar.errors import AISonarError
from aisonar.i18n import N_
from aisonar.privacy.policies import (
    Policy,
    PolicyKind,
    current_policies,
    current_policy,
    get_policy,
)
from aisonar.store.tables import policies, policy_acknowledgements, users


class PolicySuperseded(AISonarError):
    """Only the current version of a policy can be acknowledged."""

    status = 409
    kind = "conflict_error"
    code = "policy_superseded"

    def __init__(self, policy: Policy, current: Policy) -> None:
        super().__init__(
            N_(
                "version {version} of the {kind} policy was replaced by version "
                "{current_version} ({current_id}); read and acknowledge that one"
            ),
            version=policy.version,
            kind=policy.kind,
            current_version=current.version,
            current_id=current.id,
        )


@dataclass(frozen=True)
class PolicyStanding:
    """A current policy as one person stands with it."""

    policy: Policy
    # When they acknowledged this very version; None if they have not.
    acknowledged_at: datetime | None
    needs_acknowledgement: bool


async def _acknowledged(conn: AsyncConnection, user_id: str) -> dict[str, datetime]:
    rows = await conn.execute(
        select(
            policy_acknowledgements.c.policy_id, policy_acknowledgements.c.acknowledged_at
        ).where(policy_acknowledgements.c.user_id == user_id)
    )
    return {row.policy_id: as_utc(row.acknowledged_at) for row in rows}


async def _highest_versions(conn: AsyncConnection, where: Any) -> dict[str, int]:
    """The highest version of each kind among the policies `where` selects."""
    rows = await conn.execute(
        select(policies.c.kind, func.max(policies.c.version).label("version"))
        .where(where)
        .group_by(policies.c.kind)
    )
    return {row.kind: row.version for row in rows}


async def standings(conn: AsyncConnection, user_id: str) -> list[PolicyStanding]:
    """Each current policy, whether the person acknowledged it, and whether they must."""
    acknowledged = await _acknowledged(conn, user_id)
    last_acknowledged = await _highest_versions(conn, policies.c.id.in_(list(acknowledged)))
    last_material = await _highest_versions(conn, policies.c.material)
    found = []
    for policy in await current_policies(conn):
        last = last_acknowledged.get(policy.kind)
        needs = last is None or last_material.get(policy.kind, 0) > last
        found.append(PolicyStanding(policy, acknowledged.get(policy.id), needs))
    return found


async def _standing(conn: AsyncConnection, user_id: str, policy_id: str) -> PolicyStanding:
    return next(found for found in await standings(conn, user_id) if found.policy.id == policy_id)


async def record_acknowledgement(
    conn: AsyncConnection, user_id: str, policy: Policy, actor: Actor
) -> None:
    """Idempotent: a second acknowledgement keeps the first one's time (and is not
    audited again)."""
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    added = await conn.execute(
        insert(policy_acknowledgements)
        .values(user_id=user_id, policy_id=policy.id, acknowledged_at=utcnow())
        .on_conflict_do_nothing()
    )
    if added.rowcount != 1:
        return
    org_id = (await conn.execute(select(users.c.org_id).where(users.c.id == user_id))).scalar_one()
    await audit.record(
        conn,
        actor,
        "policy.acknowledge",
        object_kind="user",
        object_id=user_id,
        org_id=org_id,
        changes=audit.created(
            {"policy_id": policy.id, "kind": policy.kind, "version": policy.version}
        ),
    )


async def acknowledge(
    conn: AsyncConnection, user_id: str, policy_id: str, *, actor: Actor = SYSTEM
) -> PolicyStanding:
    """The person read the current version of a policy; an older one is refused (409)."""
    policy = await get_policy(conn, policy_id)
    current = await current_policy(conn, PolicyKind(policy.kind))
    assert current is not None
    if current.id != policy.id:
        raise PolicySuperseded(policy, current)
    await record_acknowledgement(conn, user_id, policy, actor)
    return await _standing(conn, user_id, policy.id)
