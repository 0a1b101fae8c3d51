"""Pages of organizations, users and keys are read in SQL: pages of a list split it without
gaps or repeats, by offset and by keyset, in both orders; a search narrows it in the
query; and what a members page shows (spend, active keys, invitations) costs the same
few statements for 5 members as for 60."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.accounts import listing
from aisonar.accounts import services as accounts
from aisonar.accounts.invitations import pending_invitations
from aisonar.accounts.listing import Page, UserSearch
from aisonar.accounts.models import User
from aisonar.analytics.summary import Filters, GroupBy, summaries_of, window
from aisonar.clock import utcnow
from aisonar.errors import InvalidInput
from aisonar.store.roles import Role
from tests.statements import statements
from tests.support import Backend


async def _org_with_members(engine: AsyncEngine, count: int) -> str:
    name = f"listing-{secrets.token_hex(4)}"
    async with engine.begin() as conn:
        org = await accounts.create_org(conn, name)
        for number in range(count):
            email = f"m{number}-{secrets.token_hex(3)}@example.com"
            await accounts.create_user(conn, email, name, name=f"Member {number}")
    return org.id


async def _members(engine: AsyncEngine, org_id: str) -> list[User]:
    """The organization's members, oldest first, read whole."""
    async with engine.connect() as conn:
        org = await accounts.get_org(conn, org_id)
        everyone = await accounts.list_users(conn, org.name)
    return sorted(everyone, key=lambda user: (user.created_at, user.id))


async def test_pages_split_the_members_without_gaps_or_repeats(backend: Backend) -> None:
    org_id = await _org_with_members(backend.engine, 25)
    members = UserSearch(org_id=org_id)
    everyone = [user.id for user in await _members(backend.engine, org_id)]
    async with backend.engine.connect() as conn:
        assert await listing.count_users(conn, members) == 25
        by_offset = [
            [user.id for user in await listing.users_page(conn, Page(10, offset), members)]
            for offset in (0, 10, 20)
        ]
        by_keyset: list[list[str]] = []
        after = None
        while True:
            found = await listing.users_page(conn, Page(10, after=after), members)
            if not found:
                break
            by_keyset.append([user.id for user in found])
            after = found[-1].id
        newest = await listing.users_page(conn, Page(newest_first=True), members)
        newest_pages = [
            [user.id for user in await listing.users_page(conn, page, members)]
            for page in (
                Page(10, newest_first=True),
                Page(10, after=newest[9].id, newest_first=True),
            )
        ]
    assert [len(page) for page in by_offset] == [10, 10, 5]
    assert [user_id for page in by_offset for user_id in page] == everyone
    assert by_keyset == by_offset
    assert [user.id for user in newest] == everyone[::-1]
    assert [user_id for page in newest_pages for user_id in page] == everyone[::-1][:20]


async def test_an_unknown_cursor_is_refused(backend: Backend) -> None:
    async with backend.engine.connect() as conn:
        with pytest.raises(InvalidInput) as refused:
            await listing.orgs_page(conn, Page(10, after="org_nothing"))
    assert refused.value.param == "after"


async def test_a_search_narrows_the_page_and_the_count(backend: Backend) -> None:
    org_id = await _org_with_members(backend.engine, 3)
    await _org_with_members(backend.engine, 2)
    marker = secrets.token_hex(4)
    async with backend.engine.begin() as conn:
        org = await accounts.get_org(conn, org_id)
        found = await accounts.create_user(
            conn, f"{marker}@example.com", org.name, name="50%_off", role=Role.ORG_ADMIN
        )
    async with backend.engine.connect() as conn:
        for search in (
            UserSearch(text=marker.upper()),
            UserSearch(text="50%_", org_id=org_id),
            UserSearch(org_id=org_id, role=Role.ORG_ADMIN),
        ):
            assert [user.id for user in await listing.users_page(conn, Page(), search)] == [
                found.id
            ]
            assert await listing.count_users(conn, search) == 1
        # A LIKE wildcard typed is taken as itself.
        assert await listing.count_users(conn, UserSearch(text="%", org_id=org_id)) == 1
        assert await listing.count_users(conn, UserSearch(org_id=org_id, state="active")) == 4
        assert await listing.count_users(conn, UserSearch(org_id=org_id, state="disabled")) == 0
        assert await listing.count_orgs(conn, name=org.name.upper()) == 1


async def _members_page(engine: AsyncEngine, org_id: str) -> dict[str, Any]:
    """What the console's members list reads for its first page."""
    _, until = window(None, None)
    async with engine.connect() as conn:
        members = UserSearch(org_id=org_id)
        count = await listing.count_users(conn, members)
        shown = await listing.users_page(conn, Page(50), members)
        ids = [user.id for user in shown]
        month = Filters(since=until - timedelta(days=30), until=until, user_ids=tuple(ids))
        spend = await summaries_of(conn, month, GroupBy.USER, ids)
        keys = await listing.active_key_counts(conn, ids, utcnow())
        invited = await pending_invitations(conn, ids)
    return {"count": count, "spend": spend, "keys": keys, "invited": invited}


async def test_a_members_page_costs_the_same_statements_however_many_members(
    backend: Backend,
) -> None:
    few = await _org_with_members(backend.engine, 5)
    many = await _org_with_members(backend.engine, 60)
    member = (await _members(backend.engine, many))[0]
    async with backend.engine.begin() as conn:
        await accounts.create_key(conn, member.email, name="working")
        revoked, _ = await accounts.create_key(conn, member.email, name="revoked")
        await accounts.revoke_key(conn, revoked.id)
    with statements(backend.engine) as for_few:
        small = await _members_page(backend.engine, few)
    with statements(backend.engine) as for_many:
        large = await _members_page(backend.engine, many)
    assert len(for_few) == len(for_many) <= 6
    assert (small["count"], large["count"]) == (5, 60)
    assert len(large["spend"]) == len(large["keys"]) == 50
    assert large["keys"][member.id] == 1
    assert {figures.cost_units for figures in large["spend"].values()} == {0}
