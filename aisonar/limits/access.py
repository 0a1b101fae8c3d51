"""Reading and changing a subject's rate limits and spend quotas for a signed-in caller,
for every front end (the API, the console): an operator any subject's; an org admin those
of their organization's members and keys (the organization's own and its plan's they
see, but only an operator changes them); anyone else only what is theirs to see. What
the caller may not see is NotFound; what they may see but not change, Forbidden. Spend
values are shown as decimal credits ("12.50"), counts as whole numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import Actor
from aisonar.billing.money import format_amount
from aisonar.errors import Forbidden, NotFound
from aisonar.i18n import N_
from aisonar.limits.models import SPEND_DIMENSIONS, LimitChanges, LimitSet, Subject, SubjectKind
from aisonar.limits.services import effective_limits_for, get_limits, set_limits
from aisonar.store.tables import api_keys, users

Shown = int | str | None


class Caller(Protocol):
    """Who asks (accounts' Principal, which limits sits below)."""

    @property
    def is_operator(self) -> bool: ...

    @property
    def org_id(self) -> str: ...

    def administers(self, org_id: str) -> bool: ...

    def reaches(self, user_id: str, org_id: str) -> bool: ...


@dataclass(frozen=True)
class AppliedLimit:
    """One limit that applies, and the level (subject) it comes from."""

    dimension: str
    limit: Shown
    level: str
    subject_id: str


@dataclass(frozen=True)
class SubjectLimits:
    """A subject's own limits (None: none of its own) and every limit that applies to
    it, from its level up."""

    subject: Subject
    own: dict[str, Shown]
    effective: list[AppliedLimit]


def shown(dimension: str, value: int | None) -> Shown:
    """A limit as people read it: spend in decimal credits, counts as they are."""
    if value is None or dimension not in SPEND_DIMENSIONS:
        return value
    return format_amount(value)


async def _limits(conn: AsyncConnection, subject: Subject, own: LimitSet) -> SubjectLimits:
    effective = await effective_limits_for(conn, subject)
    return SubjectLimits(
        subject=subject,
        own={dimension: shown(dimension, value) for dimension, value in vars(own).items()},
        effective=[
            AppliedLimit(
                dimension, shown(dimension, value), str(level.source.kind), level.source.id
            )
            for dimension, value, level in effective.entries()
        ],
    )


async def _owner(conn: AsyncConnection, kind: SubjectKind, subject_id: str) -> tuple[str, str]:
    """The user a user or key subject belongs to, and their organization ("" if none)."""
    if kind is SubjectKind.USER:
        query = select(users.c.id, users.c.org_id).where(users.c.id == subject_id)
    else:
        query = select(api_keys.c.user_id, api_keys.c.org_id).where(api_keys.c.id == subject_id)
    row = (await conn.execute(query)).first()
    return ("", "") if row is None else (row[0], row[1])


async def _reachable(
    conn: AsyncConnection, caller: Caller, subject: Subject, *, changing: bool
) -> None:
    if caller.is_operator:
        return
    kind = SubjectKind(subject.kind)
    if kind is SubjectKind.END_USER:
        # An application's end users are its organization's to limit.
        if subject.id != caller.org_id:
            raise NotFound(N_("no organization with id {id!r}"), id=subject.id)
        if changing and not caller.administers(subject.id):
            raise Forbidden(N_("Only the organization's admins may change limits."))
        return
    if kind is SubjectKind.PLAN or kind is SubjectKind.ORG:
        if kind is SubjectKind.ORG and subject.id != caller.org_id:
            raise NotFound(N_("no organization with id {id!r}"), id=subject.id)
        if changing:
            raise Forbidden(N_("Only an operator may change an organization's or plan's limits."))
        return
    owner, org_id = await _owner(conn, kind, subject.id)
    if not caller.reaches(owner, org_id):
        missing = (
            N_("no user with id {id!r}")
            if kind is SubjectKind.USER
            else N_("no key with id {id!r}")
        )
        raise NotFound(missing, id=subject.id)
    if changing and not caller.administers(org_id):
        raise Forbidden(N_("Only the organization's admins may change limits."))


async def limits_of(conn: AsyncConnection, caller: Caller, subject: Subject) -> SubjectLimits:
    """The subject's limits, if the caller may see them."""
    await _reachable(conn, caller, subject, changing=False)
    return await _limits(conn, subject, await get_limits(conn, subject))


async def change_limits_of(
    conn: AsyncConnection, caller: Caller, actor: Actor, subject: Subject, changes: LimitChanges
) -> SubjectLimits:
    """Change the subject's limits, if the caller may; running servers apply the change
    within a second."""
    await _reachable(conn, caller, subject, changing=True)
    own = await set_limits(conn, subject, changes, actor=actor)
    return await _limits(conn, subject, own)
