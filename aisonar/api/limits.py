"""Rate limits and spend quotas through the management API (`limits/services.py` decides who
may): an operator sets any subject's; an org admin those of their organization's
members and keys, and those for each end user of its application (`end_user`, by the
organization's id); not the organization's own, which the operator grants."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from aisonar.limits.models import Subject, SubjectKind
from aisonar.limits.services import SubjectLimits, change_limits_of, limits_of, parse_changes
from aisonar.web.deps import Acting, Caller, Engine

router = APIRouter(prefix="/api/limits", tags=["limits"])


class LimitsIn(BaseModel):
    """Only the given limits change. Counts are whole numbers, spend caps decimal credits
    ("12.50"); the word "none" removes a limit."""

    model_config = ConfigDict(extra="forbid")
    rpm: int | str | None = None
    tpm: int | str | None = None
    concurrent: int | str | None = None
    daily_spend: str | None = None
    monthly_spend: str | None = None


class LimitsOut(BaseModel):
    subject: str
    id: str
    rpm: int | None
    tpm: int | None
    concurrent: int | None
    daily_spend: str | None
    monthly_spend: str | None
    # Every limit that applies, from this level up: {dimension, limit, level, subject_id}.
    effective: list[dict[str, Any]]


def limits_out(limits: SubjectLimits) -> LimitsOut:
    return LimitsOut(
        subject=str(limits.subject.kind),
        id=limits.subject.id,
        **limits.own,
        effective=[vars(applied) for applied in limits.effective],
    )


@router.get("/{kind}/{subject_id}")
async def show_limits(caller: Caller, db: Engine, kind: SubjectKind, subject_id: str) -> LimitsOut:
    async with db.connect() as conn:
        return limits_out(await limits_of(conn, caller, Subject(kind, subject_id)))


@router.patch("/{kind}/{subject_id}")
async def change_limits(
    caller: Caller, actor: Acting, db: Engine, kind: SubjectKind, subject_id: str, body: LimitsIn
) -> LimitsOut:
    """Running servers apply the change within a second."""
    given = {
        dimension: None if value is None else str(value)
        for dimension, value in body.model_dump().items()
    }
    changes = parse_changes(**given)
    async with db.begin() as conn:
        subject = Subject(kind, subject_id)
        return limits_out(await change_limits_of(conn, caller, actor, subject, changes))
