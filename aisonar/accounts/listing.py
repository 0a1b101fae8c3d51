"""Pages of organizations, users and API keys, read in SQL for every front end: one query
with LIMIT (after an offset, or after a row: keyset paging by creation, then id) and one
COUNT where a total is shown, and what a page shows of each row (active keys) in one
query for the page, never one per row."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.directory import key_from_row, org_from_row, user_from_row, user_query
from aisonar.accounts.models import ApiKey, Organization, User
from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.store.tables import api_keys, organizations, users


@dataclass(frozen=True)
class Page:
    """Where a page starts and how long it is: after the row with id `after` (keyset), or
    past `offset` rows; `limit` None is every row from there."""

    limit: int | None = None
    offset: int = 0
    after: str | None = None
    newest_first: bool = False


EVERY = Page()
"""Every row from the first."""


@dataclass(frozen=True)
class UserSearch:
    """Users whose email or name contains `text` (any case), of one organization, with one
    role, active or disabled; empty: any."""

    text: str = ""
    org_id: str = ""
    role: str = ""
    state: str = ""


async def paged(
    conn: AsyncConnection, table: Table, query: Any, page: Page, *, order: str = "created_at"
) -> Any:
    """`query` over `table` in the order of its column `order` (creation by default), then
    id, newest first if asked, from the page's start; an `after` the query cannot see (of
    another organization, say) is refused like an unknown one."""
    created, row_id = table.c[order], table.c.id
    if page.after is not None:
        visible = query.with_only_columns(created, maintain_column_froms=True)
        cursor = (await conn.execute(visible.where(row_id == page.after))).first()
        if cursor is None:
            raise InvalidInput(
                N_("no row with id {after!r} to page after"), param="after", after=page.after
            )
        if page.newest_first:
            beyond: ColumnElement[bool] = or_(
                created < cursor[0], and_(created == cursor[0], row_id < page.after)
            )
        else:
            beyond = or_(created > cursor[0], and_(created == cursor[0], row_id > page.after))
        query = query.where(beyond)
    if page.newest_first:
        query = query.order_by(created.desc(), row_id.desc())
    else:
        query = query.order_by(created, row_id)
    return query.limit(page.limit).offset(page.offset or None)


def name_filter(name: str) -> list[ColumnElement[bool]]:
    """Organizations whose name contains `name` (any case); every one for an empty name."""
    if not name:
        return []
    return [func.lower(organizations.c.name).contains(name.lower(), autoescape=True)]


async def orgs_page(
    conn: AsyncConnection, page: Page, *, name: str = ""
) -> list[tuple[Organization, list[str] | None]]:
    """Organizations whose name contains `name` (any case), with each one's model list
    (None: every model)."""
    query = select(organizations).where(*name_filter(name))
    rows = await conn.execute(await paged(conn, organizations, query, page))
    return [(org_from_row(row), None if row.models is None else list(row.models)) for row in rows]


async def count_orgs(conn: AsyncConnection, *, name: str = "") -> int:
    query = select(func.count()).select_from(organizations).where(*name_filter(name))
    return int((await conn.execute(query)).scalar_one())


def _user_filter(search: UserSearch) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if search.text:
        text = search.text.lower()
        found.append(
            or_(
                func.lower(users.c.email).contains(text, autoescape=True),
                func.lower(users.c.name).contains(text, autoescape=True),
            )
        )
    if search.org_id:
        found.append(users.c.org_id == search.org_id)
    if search.role:
        found.append(users.c.role == search.role)
    if search.state:
        disabled = users.c.disabled_at.is_not(None)
        found.append(disabled if search.state == "disabled" else ~disabled)
    return found


async def users_page(conn: AsyncConnection, page: Page, search: UserSearch) -> list[User]:
    query = user_query().where(*_user_filter(search))
    return [user_from_row(row) for row in await conn.execute(await paged(conn, users, query, page))]


async def count_users(conn: AsyncConnection, search: UserSearch) -> int:
    query = select(func.count()).select_from(users).where(*_user_filter(search))
    return int((await conn.execute(query)).scalar_one())


async def keys_page(conn: AsyncConnection, page: Page, *, user_id: str) -> list[ApiKey]:
    """A user's keys, revoked ones too."""
    query = select(api_keys).where(api_keys.c.user_id == user_id)
    return [
        key_from_row(row) for row in await conn.execute(await paged(conn, api_keys, query, page))
    ]


async def count_keys(conn: AsyncConnection, *, user_id: str) -> int:
    query = select(func.count()).select_from(api_keys).where(api_keys.c.user_id == user_id)
    return int((await conn.execute(query)).scalar_one())


async def active_key_counts(
    conn: AsyncConnection, user_ids: Sequence[str], now: datetime
) -> dict[str, int]:
    """How many working keys (neither revoked nor expired) each of these users has."""
    if not user_ids:
        return {}
    query = (
        select(api_keys.c.user_id, func.count())
        .where(
            api_keys.c.user_id.in_(user_ids),
            api_keys.c.revoked_at.is_(None),
            or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now),
        )
        .group_by(api_keys.c.user_id)
    )
    counted = {row[0]: int(row[1]) for row in await conn.execute(query)}
    return {user_id: counted.get(user_id, 0) for user_id in user_ids}


async def member_counts(conn: AsyncConnection, org_ids: Sequence[str]) -> dict[str, int]:
    """How many members each of these organizations has."""
    if not org_ids:
        return {}
    query = (
        select(users.c.org_id, func.count())
        .where(users.c.org_id.in_(org_ids))
        .group_by(users.c.org_id)
    )
    counted = {row[0]: int(row[1]) for row in await conn.execute(query)}
    return {org_id: counted.get(org_id, 0) for org_id in org_ids}


async def plan_counts(conn: AsyncConnection) -> dict[str, int]:
    """How many organizations each plan has (a plan without any is left out)."""
    query = select(organizations.c.plan, func.count()).group_by(organizations.c.plan)
    return {row[0]: int(row[1]) for row in await conn.execute(query)}


ORG_CHOICES = 20
"""How many organizations a picker offers at once."""


@dataclass(frozen=True)
class OrgChoices:
    """Organizations a picker offers, `(id, name)` by name; `more`: others match too."""

    orgs: list[tuple[str, str]]
    more: bool


async def org_choices(
    conn: AsyncConnection, search: str, chosen: Collection[str], *, limit: int = ORG_CHOICES
) -> OrgChoices:
    """The `limit` newest organizations whose name contains `search` (any case), and the
    `chosen` ones (ids; an unknown one is left out) whatever their name: what a form's
    organization picker offers, in two queries however many organizations there are."""
    query = (
        select(organizations.c.id, organizations.c.name)
        .where(*name_filter(search))
        .order_by(organizations.c.created_at.desc(), organizations.c.id.desc())
        .limit(limit + 1)
    )
    rows = list(await conn.execute(query))
    found = {row.id: row.name for row in rows[:limit]}
    found |= await org_names(conn, set(chosen) - set(found) - {""})
    ordered = sorted(found.items(), key=lambda org: (org[1].casefold(), org[0]))
    return OrgChoices(ordered, more=len(rows) > limit)


async def org_names(conn: AsyncConnection, org_ids: Collection[str]) -> dict[str, str]:
    """The names of these organizations, by id."""
    if not org_ids:
        return {}
    query = select(organizations.c.id, organizations.c.name).where(
        organizations.c.id.in_(sorted(org_ids))
    )
    return {row.id: row.name for row in await conn.execute(query)}


async def members_by_id(
    conn: AsyncConnection, org_id: str, user_ids: Collection[str]
) -> dict[str, User]:
    """These users of the organization, by id (the others are left out)."""
    if not user_ids:
        return {}
    query = user_query().where(users.c.org_id == org_id, users.c.id.in_(sorted(user_ids)))
    return {row.id: user_from_row(row) for row in await conn.execute(query)}


async def users_by_id(conn: AsyncConnection, user_ids: Collection[str | None]) -> dict[str, User]:
    """These users, by id, in one query (one that no longer exists is left out)."""
    wanted = sorted(user_id for user_id in user_ids if user_id is not None)
    if not wanted:
        return {}
    query = user_query().where(users.c.id.in_(wanted))
    return {row.id: user_from_row(row) for row in await conn.execute(query)}
