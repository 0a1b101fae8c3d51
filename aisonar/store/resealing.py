"""Sealed secrets re-sealed under the current secret key, column by column: a batch of
rows to a transaction, so that a rotation stopped halfway goes on where it stopped, and
a second run re-seals nothing. Each row is replaced only if it still holds what was
read (a secret changed meanwhile was sealed under the current key by whoever changed
it, and is read again)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.crypto import SecretBoxError

BATCH_SIZE = 100
# `SecretBox.reseal`: the token under the current key, or None when it already is.
Reseal = Callable[[str], str | None]


@dataclass
class Resealed:
    """What a run did: secrets it re-sealed, and secrets already under the current key."""

    resealed: int = 0
    current: int = 0

    def __add__(self, other: Resealed) -> Resealed:
        return Resealed(self.resealed + other.resealed, self.current + other.current)


async def reseal_column(
    engine: AsyncEngine,
    key: Column[Any],
    sealed: Column[Any],
    reseal: Reseal,
    *,
    batch_size: int = BATCH_SIZE,
) -> Resealed:
    """Every value of `sealed` (keyed by `key`, in its order) under the current key."""
    done = Resealed()
    after: Any = None
    while True:
        query = select(key, sealed).order_by(key).limit(batch_size)
        if after is not None:
            query = query.where(key > after)
        async with engine.begin() as conn:
            rows = (await conn.execute(query)).all()
            for row_id, token in rows:
                await _reseal_row(conn, key, sealed, row_id, token, reseal, done)
        if len(rows) < batch_size:
            return done
        after = rows[-1][0]


async def _reseal_row(
    conn: AsyncConnection,
    key: Column[Any],
    sealed: Column[Any],
    row_id: Any,
    token: str | None,
    reseal: Reseal,
    done: Resealed,
) -> None:
    while token is not None:
        try:
            fresh = reseal(token)
        except SecretBoxError as error:
            raise SecretBoxError(f"{sealed.table.name} {row_id}: {error}") from error
        if fresh is None:
            done.current += 1
            return
        replaced = await conn.execute(
            update(sealed.table).where(key == row_id, sealed == token).values({sealed.name: fresh})
        )
        if replaced.rowcount:
            done.resealed += 1
            return
        token = (await conn.execute(select(sealed).where(key == row_id))).scalar_one_or_none()
