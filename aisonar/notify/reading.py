"""Which notices of a person's inbox are unread: each person keeps the id of the newest
notice they marked read (`users.notices_read_through`); every notice after it is unread.
Marking never moves the mark back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.notify.notices import in_inbox
from aisonar.store.tables import notices, users


class Reader(Protocol):
    """The signed-in person whose inbox is read (accounts' Principal, which notify sits
    below)."""

    @property
    def user_id(self) -> str: ...

    @property
    def org_id(self) -> str: ...

    def administers(self, org_id: str) -> bool: ...


@dataclass(frozen=True)
class Reading:
    # Notices after this id are unread (0: none was marked read).
    read_through: int
    unread: int


async def reading(conn: AsyncConnection, person: Reader) -> Reading:
    mark = await conn.scalar(
        select(users.c.notices_read_through).where(users.c.id == person.user_id)
    )
    read_through = mark or 0
    unread = await conn.scalar(
        select(func.count()).where(
            in_inbox(
                user_id=person.user_id,
                org_id=person.org_id,
                org_admin=person.administers(person.org_id),
            ),
            notices.c.id > read_through,
        )
    )
    return Reading(read_through, int(unread or 0))


async def mark_read(conn: AsyncConnection, person: Reader, through_id: int) -> Reading:
    """Every notice up to `through_id` is read; a lower mark than the current one changes
    nothing."""
    if through_id < 0:
        raise InvalidInput(N_("through_id is a notice id, 0 or more"), param="through_id")
    mark = users.c.notices_read_through
    await conn.execute(
        update(users)
        .where(users.c.id == person.user_id, or_(mark.is_(None), mark < through_id))
        .values(notices_read_through=through_id)
    )
    return await reading(conn, person)
