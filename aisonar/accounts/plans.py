"""Plans: how long raw usage events of their organizations are kept (Free 7 days, Pro 90,
Scale 365; Enterprise 365 unless an organization sets its own) and their markup."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.directory import get_org
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.billing.multipliers import format_multiplier
from aisonar.errors import InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.store.tables import organizations, plans

# Ten years: a window longer than anyone needs is a mistake, not a wish.
_LONGEST_RETENTION_DAYS = 3650


@dataclass(frozen=True)
class PlanInfo:
    name: str
    # The price multiplier of its organizations.
    markup: str
    # Days the raw usage events of its organizations are kept.
    retention_days: int


def _valid_days(days: int) -> int:
    if not 1 <= days <= _LONGEST_RETENTION_DAYS:
        raise InvalidInput(
            N_("retention must be 1 to {longest_retention_days} days"),
            param="retention_days",
            longest_retention_days=_LONGEST_RETENTION_DAYS,
        )
    return days


async def list_plans(conn: AsyncConnection) -> list[PlanInfo]:
    rows = await conn.execute(select(plans).order_by(plans.c.retention_days, plans.c.name))
    return [
        PlanInfo(row.name, format_multiplier(row.markup_ppm), row.retention_days) for row in rows
    ]


async def set_plan_retention(
    conn: AsyncConnection, name: str, days: int, *, actor: Actor = SYSTEM
) -> PlanInfo:
    before = (
        await conn.execute(select(plans.c.retention_days).where(plans.c.name == name))
    ).scalar_one_or_none()
    if before is None:
        raise NotFound(N_("no plan named {name!r}"), name=name)
    await conn.execute(
        update(plans).where(plans.c.name == name).values(retention_days=_valid_days(days))
    )
    await audit.record(
        conn,
        actor,
        "plan.update",
        object_kind="plan",
        object_id=name,
        changes=audit.changed({"retention_days": before}, {"retention_days": days}),
    )
    return next(plan for plan in await list_plans(conn) if plan.name == name)


async def set_org_retention(
    conn: AsyncConnection, org_id: str, days: int | None, *, actor: Actor = SYSTEM
) -> None:
    """The organization's own window (for Enterprise agreements); None follows its plan."""
    await get_org(conn, org_id)
    before = (
        await conn.execute(
            select(organizations.c.retention_days).where(organizations.c.id == org_id)
        )
    ).scalar_one()
    value = None if days is None else _valid_days(days)
    await conn.execute(
        update(organizations).where(organizations.c.id == org_id).values(retention_days=value)
    )
    await audit.record(
        conn,
        actor,
        "org.update",
        object_kind="org",
        object_id=org_id,
        org_id=org_id,
        changes=audit.changed({"retention_days": before}, {"retention_days": value}),
    )


async def retention_by_org(conn: AsyncConnection) -> dict[str, int]:
    """Every organization's window in days: its own, else its plan's."""
    rows = await conn.execute(
        select(
            organizations.c.id,
            func.coalesce(organizations.c.retention_days, plans.c.retention_days),
        ).join(plans, plans.c.name == organizations.c.plan)
    )
    return {row[0]: int(row[1]) for row in rows}
