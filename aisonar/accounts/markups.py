"""Markups: a multiplier per plan and per organization on top of the model's price. They
sit on the plan and organization rows and travel with the cached key identities, so
accounts owns them; billing applies them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from pydantic.dataclasses import dataclass as checked
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.directory import get_org_by_name
from aisonar.accounts.listing import name_filter
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.billing.multipliers import format_multiplier, parse_multiplier
from aisonar.errors import NotFound
from aisonar.i18n import N_
from aisonar.store.changes import KEY_ENTITY, record_change
from aisonar.store.tables import organizations, plans

# A decimal multiplier: "1.25".
MultiplierText = Annotated[str, Field(min_length=1, max_length=20)]


@checked(frozen=True)
class MarkupSetting:
    """A markup as people type it: a decimal multiplier such as "1.25"."""

    multiplier: MultiplierText


@dataclass(frozen=True)
class Markup:
    scope: str
    name: str
    multiplier: str


async def _announce(conn: AsyncConnection) -> None:
    # Markups travel with the cached key identities; have every server reload them.
    await record_change(conn, KEY_ENTITY, "*")


async def set_plan_markup(
    conn: AsyncConnection, plan: str, multiplier: str, *, actor: Actor = SYSTEM
) -> Markup:
    ppm = parse_multiplier(multiplier)
    result = await conn.execute(update(plans).where(plans.c.name == plan).values(markup_ppm=ppm))
    if result.rowcount == 0:
        raise NotFound(N_("no plan named {plan!r}"), plan=plan)
    await _announce(conn)
    await audit.record(
        conn,
        actor,
        "markup.set",
        object_kind="plan",
        object_id=plan,
        changes=audit.created({"multiplier": format_multiplier(ppm)}),
    )
    return Markup("plan", plan, format_multiplier(ppm))


async def set_org_markup(
    conn: AsyncConnection, org_name: str, multiplier: str, *, actor: Actor = SYSTEM
) -> Markup:
    ppm = parse_multiplier(multiplier)
    org = await get_org_by_name(conn, org_name)
    await conn.execute(
        update(organizations).where(organizations.c.id == org.id).values(markup_ppm=ppm)
    )
    await _announce(conn)
    await audit.record(
        conn,
        actor,
        "markup.set",
        object_kind="org",
        object_id=org.id,
        org_id=org.id,
        changes=audit.created({"multiplier": format_multiplier(ppm)}),
    )
    return Markup("organization", org.name, format_multiplier(ppm))


async def list_markups(conn: AsyncConnection) -> list[Markup]:
    """Every plan's markup, then every organization's that has one, each by name."""
    orgs = await conn.execute(_org_markups().order_by(organizations.c.name))
    return await plan_markups(conn) + [_org_markup(row) for row in orgs]


async def plan_markups(conn: AsyncConnection) -> list[Markup]:
    rows = await conn.execute(select(plans).order_by(plans.c.name))
    return [Markup("plan", row.name, format_multiplier(row.markup_ppm)) for row in rows]


async def org_markups(conn: AsyncConnection, search: str, limit: int) -> tuple[list[Markup], bool]:
    """The markups of the `limit` newest organizations with one whose name contains
    `search` (any case), by name; and whether more organizations match."""
    query = (
        _org_markups()
        .where(*name_filter(search))
        .order_by(organizations.c.created_at.desc(), organizations.c.id.desc())
        .limit(limit + 1)
    )
    rows = list(await conn.execute(query))
    found = sorted((_org_markup(row) for row in rows[:limit]), key=lambda m: m.name.casefold())
    return found, len(rows) > limit


def _org_markups() -> Any:
    return select(organizations.c.name, organizations.c.markup_ppm).where(
        organizations.c.markup_ppm.is_not(None)
    )


def _org_markup(row: Any) -> Markup:
    return Markup("organization", row.name, format_multiplier(row.markup_ppm))
