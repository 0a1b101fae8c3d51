"""Creating organizations and changing their settings, for operators through every front end
(the API, the console): the plan, the models its keys may use, the balance below which
its admins are told, and its own raw-usage retention. The caller is checked before (only
operators); the values are checked here, with the rules the API's bodies follow too."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import directory as accounts
from aisonar.accounts.membership import set_org_plan
from aisonar.accounts.models import Organization, Plan
from aisonar.accounts.plans import set_org_retention
from aisonar.audit.models import Actor
from aisonar.billing import ledger
from aisonar.billing.money import parse_amount

OrgName = Annotated[str, Field(min_length=1, max_length=200)]
# Credits ("5.00"); "0" turns the low-balance notice off.
Threshold = Annotated[str, Field(min_length=1, max_length=40)]
RetentionDays = Annotated[int, Field(ge=1, le=3650)]


@dataclass(frozen=True)
class NewOrg:
    name: OrgName
    plan: Plan = Plan.FREE
    # Names or `*` patterns its keys may use; None is every model.
    models: list[str] | None = None


@dataclass(frozen=True)
class OrgSettings:
    """What changes about an organization; None leaves a setting as it is, unless it is
    named in `cleared`: the models then lift the restriction (every model), the
    retention returns to its plan's."""

    plan: Plan | None = None
    # An empty list is refused.
    models: list[str] | None = None
    low_balance_threshold: Threshold | None = None
    retention_days: RetentionDays | None = None
    cleared: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PlanRetention:
    """The days a plan's organizations' raw usage is kept."""

    retention_days: RetentionDays


async def add_org(conn: AsyncConnection, actor: Actor, new: NewOrg) -> Organization:
    return await accounts.create_org(conn, new.name, new.plan, models=new.models, actor=actor)


async def change_org_settings(
    conn: AsyncConnection, actor: Actor, org_id: str, settings: OrgSettings
) -> Organization:
    """Change what `settings` gives, each change audited; the organization afterwards."""
    org = await accounts.get_org(conn, org_id)
    if settings.plan is not None:
        org = await set_org_plan(conn, org_id, settings.plan, actor=actor)
    if settings.models is not None or "models" in settings.cleared:
        await accounts.set_org_models(conn, org.name, settings.models, actor=actor)
    if settings.low_balance_threshold is not None:
        threshold = parse_amount(
            settings.low_balance_threshold, param="low_balance_threshold", allow_zero=True
        )
        await ledger.set_low_balance_threshold(conn, org_id, threshold, actor=actor)
    if settings.retention_days is not None or "retention_days" in settings.cleared:
        await set_org_retention(conn, org_id, settings.retention_days, actor=actor)
    return await accounts.get_org(conn, org_id)
