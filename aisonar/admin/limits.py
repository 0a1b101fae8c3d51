"""Rate limits and spend quotas through the management API. An operator sets any
subject's; an org admin those of their organization's members and keys (not the
organization's own, which the operator grants)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts import services as accounts
from aisonar.accounts.principal import Principal
from aisonar.audit.models import Actor
from aisonar.billing.money import format_amount
from aisonar.errors import NotFound
from aisonar.i18n import N_
from aisonar.limits.models import (
    SPEND_DIMENSIONS,
    LimitChanges,
    LimitSet,
    Subject,
    SubjectKind,
)
from aisonar.limits.services import effective_limits_for, get_limits, parse_changes, set_limits
from aisonar.web.deps import Acting, Caller, Engine
from aisonar.web.errors import Forbidden

router = APIRouter(prefix="/api/limits", tags=["limits"])

Value = int | str | None


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


def _shown(dimension: str, value: int | None) -> Value:
    if value is None or dimension not in SPEND_DIMENSIONS:
        return value
    return format_amount(value)


async def _out(conn: AsyncConnection, subject: Subject, own: LimitSet) -> LimitsOut:
    effective = await effective_limits_for(conn, subject)
    return LimitsOut(
        subject=str(subject.kind),
        id=subject.id,
        **{dimension: _shown(dimension, value) for dimension, value in vars(own).items()},
        effective=[
            {
                "dimension": dimension,
                "limit": _shown(dimension, value),
                "level": str(level.source.kind),
                "subject_id": level.source.id,
            }
            for dimension, value, level in effective.entries()
        ],
    )


async def _reachable(
    conn: AsyncConnection, caller: Principal, subject: Subject, *, changing: bool
) -> None:
    """NotFound for what the caller may not see; Forbidden for what they may see but
    not change."""
    if caller.is_operator:
        return
    kind = SubjectKind(subject.kind)
    if kind is SubjectKind.PLAN or kind is SubjectKind.ORG:
        if kind is SubjectKind.ORG and subject.id != caller.org_id:
            raise NotFound(N_("no organization with id {id!r}"), id=subject.id)
        if changing:
            raise Forbidden(N_("Only an operator may change an organization's or plan's limits."))
        return
    try:
        if kind is SubjectKind.USER:
            user = await accounts.get_user(conn, subject.id)
            owner, org_id = user.id, user.org_id
        else:
            key = await accounts.get_key(conn, subject.id)
            owner, org_id = key.user_id, key.org_id
    except NotFound:
        owner = org_id = ""
    if not caller.reaches(owner, org_id):
        missing = (
            N_("no user with id {id!r}")
            if kind is SubjectKind.USER
            else N_("no key with id {id!r}")
        )
        raise NotFound(missing, id=subject.id)
    if changing and not caller.administers(org_id):
        raise Forbidden(N_("Only the organization's admins may change limits."))


@router.get("/{kind}/{subject_id}")
async def show_limits(caller: Caller, db: Engine, kind: SubjectKind, subject_id: str) -> LimitsOut:
    async with db.connect() as conn:
        return await limits_of(conn, caller, Subject(kind, subject_id))


async def limits_of(conn: AsyncConnection, caller: Principal, subject: Subject) -> LimitsOut:
    """`GET /api/limits/{kind}/{id}` (the API and the console)."""
    await _reachable(conn, caller, subject, changing=False)
    return await _out(conn, subject, await get_limits(conn, subject))


@router.patch("/{kind}/{subject_id}")
async def change_limits(
    caller: Caller, actor: Acting, db: Engine, kind: SubjectKind, subject_id: str, body: LimitsIn
) -> LimitsOut:
    """Running servers apply the change within a second."""
    changes = limit_changes(body)
    async with db.begin() as conn:
        return await change_limits_of(conn, caller, actor, Subject(kind, subject_id), changes)


def limit_changes(body: LimitsIn) -> LimitChanges:
    """The changes a `PATCH /api/limits/...` body asks for (checked before anything is
    read)."""
    given = {
        dimension: None if value is None else str(value)
        for dimension, value in body.model_dump().items()
    }
    return parse_changes(**given)


async def change_limits_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, subject: Subject, changes: LimitChanges
) -> LimitsOut:
    """`PATCH /api/limits/{kind}/{id}` (the API and the console)."""
    await _reachable(conn, caller, subject, changing=True)
    own = await set_limits(conn, subject, changes, actor=actor)
    return await _out(conn, subject, own)
