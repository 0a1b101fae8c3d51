"""Plans, for operators: their raw-usage retention and markup (`aisonar plan list|set`)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from aisonar.accounts.services import PlanInfo, list_plans, set_plan_retention
from aisonar.web.deps import Acting, Engine, Operator

router = APIRouter(prefix="/api/plans", tags=["plans"])


class PlanChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retention_days: int = Field(ge=1, le=3650)


@router.get("")
async def plans(caller: Operator, db: Engine) -> list[PlanInfo]:
    async with db.connect() as conn:
        return await list_plans(conn)


@router.patch("/{plan}")
async def change_plan(
    caller: Operator, actor: Acting, db: Engine, plan: str, body: PlanChange
) -> PlanInfo:
    """Keep the raw usage of the plan's organizations this many days; the next retention
    run deletes what is older."""
    async with db.begin() as conn:
        return await set_plan_retention(conn, plan, body.retention_days, actor=actor)
