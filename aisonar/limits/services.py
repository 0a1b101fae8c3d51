"""Rate limits and spend quotas: set, read, and what applies to a key (or a user, or an
organization, or each end user of one). Every change drops the cached key identities of
every running server, which is where the gateway will read the limits that apply.

For a signed-in caller, as every front end asks (`limits_of`, `change_limits_of`): an
operator any subject's; an org admin those of their organization's members and keys (the
organization's own and its plan's they see, but only an operator changes them); anyone
else only what is theirs to see. What the caller may not see is NotFound; what they may
see but not change, Forbidden. Spend values are shown as decimal credits ("12.50"),
counts as whole numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.billing.money import format_amount, parse_amount
from aisonar.clock import utcnow
from aisonar.errors import Forbidden, InvalidInput, NotFound, Phrase
from aisonar.i18n import N_
from aisonar.limits.models import (
    CLEAR,
    COUNT_DIMENSIONS,
    DIMENSIONS,
    MAX_COUNT,
    MAX_SPEND,
    SPEND_DIMENSIONS,
    AppliedLimits,
    Change,
    Clear,
    EffectiveLimits,
    LimitChanges,
    LimitSet,
    Subject,
    SubjectKind,
)
from aisonar.limits.spend import PERIODS
from aisonar.limits.spent import spent_in_period
from aisonar.store.changes import KEY_ENTITY, record_change
from aisonar.store.tables import api_keys, organizations, plans, rate_limits, users

# In place of a value, this word removes the limit.
CLEAR_WORD = CLEAR.value


def parse_count(text: str, *, param: str) -> int | Clear:
    """A positive whole number, or `none` to remove the limit."""
    stripped = text.strip()
    if stripped.lower() == CLEAR_WORD:
        return CLEAR
    if not stripped.isascii() or not stripped.isdigit():
        raise InvalidInput(
            N_("{field}: {text!r} is not a positive whole number"),
            param=param,
            field=param,
            text=text,
        )
    return _checked(int(stripped), param, maximum=MAX_COUNT, unit=_COUNT)


def parse_spend(text: str, *, param: str) -> int | Clear:
    """A decimal amount of credits greater than zero (in micro-units), or `none`."""
    if text.strip().lower() == CLEAR_WORD:
        return CLEAR
    try:
        units = parse_amount(text, param=param)
    except InvalidInput as error:
        raise InvalidInput(N_("{field}: {error}"), param=param, field=param, error=error) from None
    return _checked(units, param, maximum=MAX_SPEND, unit=_SPEND)


def parse_changes(**given: str | None) -> LimitChanges:
    """Changes from text, as the command line and APIs take them: a value per dimension
    (`rpm="60"`, `daily_spend="12.50"`), `none` to remove it, or None to leave it."""
    unknown = set(given) - set(DIMENSIONS)
    if unknown:
        raise InvalidInput(N_("unknown limits: {names}"), names=", ".join(sorted(unknown)))
    parsed: dict[str, Change] = {}
    for dimension, text in given.items():
        if text is None:
            continue
        parse = parse_count if dimension in COUNT_DIMENSIONS else parse_spend
        parsed[dimension] = parse(text, param=dimension)
    return LimitChanges(**parsed)


_COUNT = Phrase(N_("a whole number"))
_SPEND = Phrase(N_("an amount in micro-units"))


def _checked(value: int, param: str, *, maximum: int, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            N_("{field}: {value!r} is not {unit}"), param=param, field=param, value=value, unit=unit
        )
    if value <= 0:
        raise InvalidInput(N_("{field}: must be greater than zero"), param=param, field=param)
    if value > maximum:
        raise InvalidInput(
            N_("{field}: must be at most {maximum}"), param=param, field=param, maximum=maximum
        )
    return value


def _validate(changes: LimitChanges) -> None:
    if changes.is_empty():
        raise InvalidInput(N_("nothing to change: give at least one limit"))
    for dimension in DIMENSIONS:
        change = changes.get(dimension)
        if change is None or isinstance(change, Clear):
            continue
        if dimension in SPEND_DIMENSIONS:
            _checked(change, dimension, maximum=MAX_SPEND, unit=_SPEND)
        else:
            _checked(change, dimension, maximum=MAX_COUNT, unit=_COUNT)


@dataclass(frozen=True)
class ResolvedSubject:
    subject: Subject
    # The organization's name, the user's email, the key's id or the plan's name.
    label: str


async def resolve_subject(conn: AsyncConnection, kind: str, reference: str) -> ResolvedSubject:
    """A subject as people name it: a plan or organization (or every end user of one) by
    name, a user by email, a key by id. NotFound when there is none."""
    kind = SubjectKind(kind)
    if kind is SubjectKind.ORG or kind is SubjectKind.END_USER:
        row = (
            await conn.execute(
                select(organizations.c.id, organizations.c.name).where(
                    organizations.c.name == reference
                )
            )
        ).first()
        if row is None:
            raise NotFound(N_("no organization named {reference!r}"), reference=reference)
        return ResolvedSubject(Subject(kind, row.id), row.name)
    if kind is SubjectKind.USER:
        email = reference.strip().lower()
        row = (
            await conn.execute(select(users.c.id, users.c.email).where(users.c.email == email))
        ).first()
        if row is None:
            raise NotFound(N_("no user with email {email!r}"), email=email)
        return ResolvedSubject(Subject(kind, row.id), row.email)
    subject = Subject(kind, reference)
    await _require(conn, subject)
    return ResolvedSubject(subject, reference)


async def _require(conn: AsyncConnection, subject: Subject) -> None:
    """NotFound unless the plan, organization, user or key exists."""
    column, missing = {
        SubjectKind.PLAN: (plans.c.name, N_("no plan named {id!r}")),
        SubjectKind.ORG: (organizations.c.id, N_("no organization with id {id!r}")),
        SubjectKind.END_USER: (organizations.c.id, N_("no organization with id {id!r}")),
        SubjectKind.USER: (users.c.id, N_("no user with id {id!r}")),
        SubjectKind.KEY: (api_keys.c.id, N_("no key with id {id!r}")),
    }[SubjectKind(subject.kind)]
    found = (await conn.execute(select(column).where(column == subject.id))).first()
    if found is None:
        raise NotFound(missing, id=subject.id)


def _limit_set(row: Any) -> LimitSet:
    if row is None:
        return LimitSet()
    return LimitSet(**{dimension: getattr(row, dimension) for dimension in DIMENSIONS})


def _is(subject: Subject) -> Any:
    return and_(rate_limits.c.subject_kind == subject.kind, rate_limits.c.subject_id == subject.id)


async def _read(conn: AsyncConnection, subject: Subject) -> LimitSet:
    return _limit_set((await conn.execute(select(rate_limits).where(_is(subject)))).first())


async def get_limits(conn: AsyncConnection, subject: Subject) -> LimitSet:
    """The subject's own limits (all None when it has none); NotFound for no such subject."""
    await _require(conn, subject)
    return await _read(conn, subject)


async def _org_of(conn: AsyncConnection, subject: Subject) -> str | None:
    """The organization a subject belongs to (a plan belongs to none)."""
    kind = SubjectKind(subject.kind)
    if kind is SubjectKind.ORG or kind is SubjectKind.END_USER:
        return subject.id
    if kind is SubjectKind.PLAN:
        return None
    table = users if kind is SubjectKind.USER else api_keys
    query = select(table.c.org_id).where(table.c.id == subject.id)
    org_id: str | None = (await conn.execute(query)).scalar_one_or_none()
    return org_id


async def set_limits(
    conn: AsyncConnection, subject: Subject, changes: LimitChanges, *, actor: Actor = SYSTEM
) -> LimitSet:
    """Change only the given dimensions (CLEAR removes one); returns the subject's limits.
    Running servers drop their cached key identities, so the change holds everywhere
    within a second."""
    _validate(changes)
    await _require(conn, subject)
    before = await _read(conn, subject)
    given: dict[str, int | None] = {}
    for dimension in DIMENSIONS:
        change = changes.get(dimension)
        if change is not None:
            given[dimension] = None if isinstance(change, Clear) else change
    now = utcnow()
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(rate_limits).values(
        subject_kind=str(subject.kind), subject_id=subject.id, updated_at=now, **given
    )
    # One statement, so that two operators changing different limits at once lose nothing.
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[rate_limits.c.subject_kind, rate_limits.c.subject_id],
            set_={**given, "updated_at": now},
        )
    )
    limits = await _read(conn, subject)
    if limits.is_empty():
        await conn.execute(delete(rate_limits).where(_is(subject)))
    await record_change(conn, KEY_ENTITY, "*")
    await audit.record(
        conn,
        actor,
        "limits.set",
        object_kind=str(subject.kind),
        object_id=subject.id,
        org_id=await _org_of(conn, subject),
        changes=audit.changed(dict(before.items()), dict(limits.items())),
    )
    return limits


async def _chain(conn: AsyncConnection, subject: Subject) -> list[tuple[Subject, str]]:
    """The subject and every wider level above it, narrowest first, with their labels;
    the last is always the organization's plan (for a plan, the plan alone)."""
    kind = SubjectKind(subject.kind)
    if kind is SubjectKind.PLAN:
        await _require(conn, subject)
        return [(subject, subject.id)]
    if kind is SubjectKind.END_USER:
        name = select(organizations.c.name).where(organizations.c.id == subject.id)
        label = (await conn.execute(name)).scalar_one_or_none()
        if label is None:
            raise NotFound(N_("no organization with id {id!r}"), id=subject.id)
        return [(subject, label)]
    query = select(
        organizations.c.id.label("org_id"),
        organizations.c.name.label("org_name"),
        organizations.c.plan,
    )
    if kind is SubjectKind.ORG:
        query = query.where(organizations.c.id == subject.id)
    else:
        query = query.add_columns(users.c.id.label("user_id"), users.c.email).join(
            users, users.c.org_id == organizations.c.id
        )
        if kind is SubjectKind.USER:
            query = query.where(users.c.id == subject.id)
        else:
            query = (
                query.add_columns(api_keys.c.id.label("key_id"))
                .join(api_keys, api_keys.c.user_id == users.c.id)
                .where(api_keys.c.id == subject.id)
            )
    row = (await conn.execute(query)).first()
    if row is None:
        await _require(conn, subject)  # raises NotFound
        raise NotFound(N_("no {kind} with id {id!r}"), kind=kind, id=subject.id)
    chain: list[tuple[Subject, str]] = []
    if kind is SubjectKind.KEY:
        chain.append((Subject(SubjectKind.KEY, row.key_id), row.key_id))
    if kind in (SubjectKind.KEY, SubjectKind.USER):
        chain.append((Subject(SubjectKind.USER, row.user_id), row.email))
    chain.append((Subject(SubjectKind.ORG, row.org_id), row.org_name))
    chain.append((Subject(SubjectKind.PLAN, row.plan), row.plan))
    return chain


async def effective_limits_for(conn: AsyncConnection, subject: Subject) -> EffectiveLimits:
    """Every level that applies to the subject: its own limits, its user's, its
    organization's, and its plan's default for each dimension the organization leaves
    unset (counted per organization). NotFound for no such subject."""
    chain = await _chain(conn, subject)
    orgs = [(Subject(SubjectKind.END_USER, s.id), label) for s, label in chain if s.kind == "org"]
    wanted = [*chain, *orgs]
    rows = await conn.execute(select(rate_limits).where(or_(*(_is(s) for s, _ in wanted))))
    found = {(row.subject_kind, row.subject_id): _limit_set(row) for row in rows}
    end_users = None
    for source, label in orgs:
        limits = found.get((str(source.kind), source.id), LimitSet())
        if not limits.is_empty():
            end_users = AppliedLimits(source=source, counted=source, label=label, limits=limits)
    levels: list[AppliedLimits] = []
    org: AppliedLimits | None = None
    for source, label in chain:
        limits = found.get((str(source.kind), source.id), LimitSet())
        counted = source
        if source.kind is SubjectKind.PLAN and org is not None:
            # The plan's value is a default: the organization's own replaces it.
            counted = org.source
            limits = LimitSet(
                **{
                    dimension: None if org.limits.get(dimension) is not None else value
                    for dimension, value in vars(limits).items()
                }
            )
        level = AppliedLimits(source=source, counted=counted, label=label, limits=limits)
        if source.kind is SubjectKind.ORG:
            org = level
        if not limits.is_empty():
            levels.append(level)
    return EffectiveLimits(tuple(levels), end_users)


async def effective_limits(conn: AsyncConnection, key_id: str) -> EffectiveLimits:
    """What a request with this key is checked against: the key's limits, its user's,
    and its organization's (or, dimension by dimension, the plan's default)."""
    return await effective_limits_for(conn, Subject(SubjectKind.KEY, key_id))


async def spent_this_period(
    conn: AsyncConnection, counted: Subject, dimension: str, now: datetime
) -> int:
    """What `counted` has spent in the period of the spend quota `dimension` that holds
    `now`, as recorded (requests in flight are not in it yet)."""
    return await spent_in_period(conn, counted, PERIODS[dimension](now))


# For a signed-in caller: what they may see and change.
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
