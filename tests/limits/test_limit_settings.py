"""Rate limits and spend quotas as configured: set, read, cleared, refused, and combined
into what applies to a key, against SQLite and PostgreSQL alike.

Each test works on a plan of its own (a row added to `plans`), so that limits set here
never apply to another test's organizations."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.errors import InvalidInput, NotFound
from aisonar.limits.models import (
    CLEAR,
    MAX_COUNT,
    LimitChanges,
    LimitSet,
    Subject,
    SubjectKind,
)
from aisonar.limits.services import (
    effective_limits,
    effective_limits_for,
    get_limits,
    parse_changes,
    resolve_subject,
    set_limits,
)
from aisonar.store.changes import KEY_ENTITY
from aisonar.store.tables import change_log, rate_limits
from tests.support import Backend, Tenant, make_tenant, own_plan


def subjects(tenant: Tenant, plan: str) -> dict[SubjectKind, Subject]:
    return {
        SubjectKind.PLAN: Subject(SubjectKind.PLAN, plan),
        SubjectKind.ORG: Subject(SubjectKind.ORG, tenant.org_id),
        SubjectKind.USER: Subject(SubjectKind.USER, tenant.user_id),
        SubjectKind.KEY: Subject(SubjectKind.KEY, tenant.key_id),
        SubjectKind.END_USER: Subject(SubjectKind.END_USER, tenant.org_id),
    }


async def key_changes(conn: AsyncConnection) -> int:
    query = (
        select(func.count())
        .select_from(change_log)
        .where(change_log.c.entity == KEY_ENTITY, change_log.c.entity_id == "*")
    )
    return int((await conn.execute(query)).scalar_one())


async def stored_rows(conn: AsyncConnection) -> list[tuple[object, ...]]:
    rows = await conn.execute(
        select(rate_limits).order_by(rate_limits.c.subject_kind, rate_limits.c.subject_id)
    )
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("kind", list(SubjectKind))
async def test_set_and_get_for_each_subject(
    backend: Backend, tenant: Tenant, kind: SubjectKind
) -> None:
    subject = subjects(tenant, await own_plan(backend, tenant))[kind]
    async with backend.engine.begin() as conn:
        assert await get_limits(conn, subject) == LimitSet()
        changes = LimitChanges(
            rpm=60, tpm=10_000, concurrent=4, daily_spend=5_000_000, monthly_spend=90_000_001
        )
        written = await set_limits(conn, subject, changes)
    expected = LimitSet(
        rpm=60, tpm=10_000, concurrent=4, daily_spend=5_000_000, monthly_spend=90_000_001
    )
    assert written == expected
    async with backend.engine.connect() as conn:
        assert await get_limits(conn, subject) == expected
        # No other subject got them.
        for other_kind, other in subjects(tenant, subject.id).items():
            if other_kind is not kind and other_kind is not SubjectKind.PLAN:
                assert await get_limits(conn, other) == LimitSet()


async def test_only_the_given_limits_change_and_none_clears(
    backend: Backend, tenant: Tenant
) -> None:
    subject = Subject(SubjectKind.USER, tenant.user_id)
    async with backend.engine.begin() as conn:
        await set_limits(conn, subject, LimitChanges(rpm=10, daily_spend=1_000_000))
        assert await set_limits(conn, subject, LimitChanges(tpm=500)) == LimitSet(
            rpm=10, tpm=500, daily_spend=1_000_000
        )
        assert await set_limits(conn, subject, LimitChanges(rpm=CLEAR, concurrent=2)) == LimitSet(
            tpm=500, concurrent=2, daily_spend=1_000_000
        )
        # Clearing a limit that is not set is no error and changes nothing else.
        assert await set_limits(conn, subject, LimitChanges(monthly_spend=CLEAR)) == LimitSet(
            tpm=500, concurrent=2, daily_spend=1_000_000
        )
    async with backend.engine.begin() as conn:
        assert await get_limits(conn, subject) == LimitSet(
            tpm=500, concurrent=2, daily_spend=1_000_000
        )
        cleared = LimitChanges(tpm=CLEAR, concurrent=CLEAR, daily_spend=CLEAR)
        assert await set_limits(conn, subject, cleared) == LimitSet()
        # With nothing left, nothing is stored.
        found = await conn.execute(
            select(rate_limits).where(rate_limits.c.subject_id == tenant.user_id)
        )
        assert found.first() is None


async def test_parsing_counts_spend_and_clear() -> None:
    assert parse_changes(
        rpm="60", tpm=" 1000 ", concurrent="none", daily_spend="12.50", monthly_spend="NONE"
    ) == LimitChanges(
        rpm=60, tpm=1000, concurrent=CLEAR, daily_spend=12_500_000, monthly_spend=CLEAR
    )
    assert parse_changes(rpm=None) == LimitChanges()
    assert parse_changes(daily_spend="0.000001").daily_spend == 1
    assert parse_changes(monthly_spend="12345678.123456").monthly_spend == 12_345_678_123_456
    assert parse_changes(rpm=str(MAX_COUNT)).rpm == MAX_COUNT


@pytest.mark.parametrize(
    ("dimension", "text"),
    [
        ("rpm", "0"),
        ("rpm", "-5"),
        ("tpm", "ten"),
        ("concurrent", "1.5"),
        ("rpm", ""),
        ("rpm", str(MAX_COUNT + 1)),
        ("tpm", "١٢"),  # digits, but not ASCII ones
        ("daily_spend", "0"),
        ("daily_spend", "-1"),
        ("monthly_spend", "1.0000001"),
        ("monthly_spend", "lots"),
        ("daily_spend", "nan"),
    ],
)
async def test_bad_text_is_refused(dimension: str, text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_changes(**{dimension: text})
    assert raised.value.param == dimension and dimension in raised.value.message


@pytest.mark.parametrize(
    "changes",
    [
        LimitChanges(),
        LimitChanges(rpm=0),
        LimitChanges(tpm=-1),
        LimitChanges(concurrent=MAX_COUNT + 1),
        LimitChanges(daily_spend=0),
        LimitChanges(monthly_spend=-1_000_000),
        LimitChanges(rpm=True),
    ],
)
async def test_bad_changes_change_nothing(
    backend: Backend, tenant: Tenant, changes: LimitChanges
) -> None:
    subject = Subject(SubjectKind.KEY, tenant.key_id)
    async with backend.engine.begin() as conn:
        await set_limits(conn, subject, LimitChanges(rpm=7))
    async with backend.engine.connect() as conn:
        before = (await stored_rows(conn), await key_changes(conn))
        with pytest.raises(InvalidInput):
            await set_limits(conn, subject, changes)
        assert (await stored_rows(conn), await key_changes(conn)) == before
        assert await get_limits(conn, subject) == LimitSet(rpm=7)
        await conn.rollback()


@pytest.mark.parametrize("kind", list(SubjectKind))
async def test_unknown_subjects_are_not_found(backend: Backend, kind: SubjectKind) -> None:
    subject = Subject(kind, "nope_" + secrets.token_hex(4))
    async with backend.engine.connect() as conn:
        before = (await stored_rows(conn), await key_changes(conn))
        with pytest.raises(NotFound):
            await set_limits(conn, subject, LimitChanges(rpm=1))
        with pytest.raises(NotFound):
            await get_limits(conn, subject)
        with pytest.raises(NotFound):
            await effective_limits_for(conn, subject)
        with pytest.raises(NotFound):
            await resolve_subject(conn, kind, subject.id)
        assert (await stored_rows(conn), await key_changes(conn)) == before
        await conn.rollback()
    async with backend.engine.connect() as conn:
        with pytest.raises(NotFound):
            await effective_limits(conn, "key_missing")


async def test_resolving_subjects_by_the_names_people_use(backend: Backend, tenant: Tenant) -> None:
    plan = await own_plan(backend, tenant)
    async with backend.engine.connect() as conn:
        org = await resolve_subject(conn, "org", tenant.org_name)
        user = await resolve_subject(conn, "user", tenant.email.upper())
        key = await resolve_subject(conn, "key", tenant.key_id)
        on_plan = await resolve_subject(conn, "plan", plan)
    assert (org.subject, org.label) == (Subject(SubjectKind.ORG, tenant.org_id), tenant.org_name)
    assert (user.subject, user.label) == (Subject(SubjectKind.USER, tenant.user_id), tenant.email)
    assert key.subject == Subject(SubjectKind.KEY, tenant.key_id)
    assert on_plan.subject == Subject(SubjectKind.PLAN, plan)


async def test_spend_round_trips_exactly(backend: Backend, tenant: Tenant) -> None:
    subject = Subject(SubjectKind.ORG, tenant.org_id)
    for text in ("0.000001", "12345678.123456", "9223372036854.775807"):
        changes = parse_changes(daily_spend=text, monthly_spend=text)
        async with backend.engine.begin() as conn:
            await set_limits(conn, subject, changes)
        async with backend.engine.connect() as conn:
            stored = await get_limits(conn, subject)
        assert stored.daily_spend == stored.monthly_spend == changes.daily_spend
        assert isinstance(stored.daily_spend, int)
    assert stored.daily_spend == 2**63 - 1


async def test_effective_limits_combine_key_user_org_and_plan(
    backend: Backend, tenant: Tenant
) -> None:
    plan = await own_plan(backend, tenant)
    given = subjects(tenant, plan)
    async with backend.engine.begin() as conn:
        await set_limits(conn, given[SubjectKind.KEY], LimitChanges(rpm=10))
        await set_limits(conn, given[SubjectKind.USER], LimitChanges(rpm=50, tpm=2_000))
        await set_limits(conn, given[SubjectKind.ORG], LimitChanges(rpm=100, daily_spend=9))
        await set_limits(
            conn,
            given[SubjectKind.PLAN],
            LimitChanges(rpm=5, concurrent=3, daily_spend=1, monthly_spend=30),
        )
    async with backend.engine.connect() as conn:
        effective = await effective_limits(conn, tenant.key_id)

    assert [(level.source, level.counted, level.limits) for level in effective.levels] == [
        (given[SubjectKind.KEY], given[SubjectKind.KEY], LimitSet(rpm=10)),
        (given[SubjectKind.USER], given[SubjectKind.USER], LimitSet(rpm=50, tpm=2_000)),
        (given[SubjectKind.ORG], given[SubjectKind.ORG], LimitSet(rpm=100, daily_spend=9)),
        # The organization's own rpm and daily spend replace the plan's; the plan's
        # other limits apply, counted per organization.
        (given[SubjectKind.PLAN], given[SubjectKind.ORG], LimitSet(concurrent=3, monthly_spend=30)),
    ]
    assert [level.label for level in effective.levels] == [
        tenant.key_id,
        tenant.email,
        tenant.org_name,
        plan,
    ]
    assert [
        (dimension, value, level.source.kind) for dimension, value, level in effective.entries()
    ] == [
        ("rpm", 10, "key"),
        ("rpm", 50, "user"),
        ("rpm", 100, "org"),
        ("tpm", 2_000, "user"),
        ("concurrent", 3, "plan"),
        ("daily_spend", 9, "org"),
        ("monthly_spend", 30, "plan"),
    ]
    assert effective.tightest("rpm") == 10 and effective.tightest("tpm") == 2_000

    # The user's and the organization's views: the levels above them only.
    async with backend.engine.connect() as conn:
        for_user = await effective_limits_for(conn, given[SubjectKind.USER])
        for_org = await effective_limits_for(conn, given[SubjectKind.ORG])
        for_plan = await effective_limits_for(conn, given[SubjectKind.PLAN])
    assert [level.source.kind for level in for_user.levels] == ["user", "org", "plan"]
    assert [level.source.kind for level in for_org.levels] == ["org", "plan"]
    assert [level.limits for level in for_plan.levels] == [
        LimitSet(rpm=5, concurrent=3, daily_spend=1, monthly_spend=30)
    ]

    # Without the organization's own rpm, the plan's applies again.
    async with backend.engine.begin() as conn:
        await set_limits(conn, given[SubjectKind.ORG], LimitChanges(rpm=CLEAR))
        effective = await effective_limits(conn, tenant.key_id)
    assert [(d, v, level.source.kind) for d, v, level in effective.entries() if d == "rpm"] == [
        ("rpm", 10, "key"),
        ("rpm", 50, "user"),
        ("rpm", 5, "plan"),
    ]
    assert effective.tightest("rpm") == 5


async def test_a_key_without_limits_anywhere_has_none(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    await own_plan(backend, tenant)
    async with backend.engine.connect() as conn:
        effective = await effective_limits(conn, tenant.key_id)
    assert effective.levels == () and effective.tightest("rpm") is None


async def test_every_change_is_announced_to_running_servers(
    backend: Backend, tenant: Tenant
) -> None:
    plan = await own_plan(backend, tenant)
    for subject in subjects(tenant, plan).values():
        for changes in (LimitChanges(rpm=3), LimitChanges(tpm=9), LimitChanges(rpm=CLEAR)):
            async with backend.engine.begin() as conn:
                before = await key_changes(conn)
                await set_limits(conn, subject, changes)
                assert await key_changes(conn) == before + 1
