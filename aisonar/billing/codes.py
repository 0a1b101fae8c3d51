"""Redemption codes: printed once, stored only as hashes, redeemed once, never after
expiry. A code carries 80 random bits, so with throttling guessing one is hopeless."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field
from pydantic.dataclasses import dataclass as checked
from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.billing.ledger import LedgerEntry, LedgerKind, NewEntry, credit
from aisonar.billing.money import format_amount, parse_amount
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.errors import AISonarError, InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.store.tables import redemption_codes

CODE_PREFIX = "SONAR"
# Credits, as a decimal string ("12.50").
AmountText = Annotated[str, Field(min_length=1, max_length=40)]
_MAX_BATCH = 10_000


class CodeNotRedeemable(AISonarError):
    status = 400
    kind = "invalid_request_error"
    code = "code_not_redeemable"


@checked(frozen=True)
class CodeOrder:
    """A batch to make, as people type it (with the rules the API's body follows too):
    each code's amount in credits, how many, and until when they can be redeemed."""

    amount: AmountText
    count: Annotated[int, Field(ge=1)] = 1
    expires_at: datetime | None = None


@dataclass(frozen=True)
class CodeBatch:
    batch: str
    amount: str
    expires_at: datetime | None
    codes: list[str]


def _normalize(code: str) -> str:
    return code.strip().upper().replace(" ", "")


def hash_code(code: str) -> str:
    return hashlib.sha256(_normalize(code).encode()).hexdigest()


def _new_code() -> str:
    body = base64.b32encode(secrets.token_bytes(10)).decode()  # 16 characters, 80 bits
    return "-".join([CODE_PREFIX, *(body[i : i + 4] for i in range(0, 16, 4))])


async def create_codes(
    conn: AsyncConnection,
    *,
    amount: str,
    count: int,
    expires_at: datetime | None,
    actor: Actor = SYSTEM,
) -> CodeBatch:
    units = parse_amount(amount)
    if not 1 <= count <= _MAX_BATCH:
        raise InvalidInput(
            N_("count must be between 1 and {max_batch}"), param="count", max_batch=_MAX_BATCH
        )
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise InvalidInput(N_("expiry must be in the future"), param="expires")
    batch, now = new_id("batch"), utcnow()
    codes = [_new_code() for _ in range(count)]
    await conn.execute(
        insert(redemption_codes),
        [
            {
                "id": new_id("code"),
                "code_hash": hash_code(code),
                "amount": units,
                "batch": batch,
                "created_at": now,
                "expires_at": expires_at,
            }
            for code in codes
        ],
    )
    await audit.record(
        conn,
        actor,
        "code.create",
        object_kind="code_batch",
        object_id=batch,
        changes=audit.created(
            {"amount": format_amount(units), "count": count, "expires_at": expires_at}
        ),
    )
    return CodeBatch(batch, format_amount(units), expires_at, codes)


async def redeem(conn: AsyncConnection, code: str, *, org_id: str, user_id: str) -> LedgerEntry:
    """Claim the code and credit the organization in one transaction."""
    now = utcnow()
    claimed = (
        await conn.execute(
            update(redemption_codes)
            .where(
                redemption_codes.c.code_hash == hash_code(code),
                redemption_codes.c.redeemed_at.is_(None),
                or_(redemption_codes.c.expires_at.is_(None), redemption_codes.c.expires_at > now),
            )
            .values(redeemed_at=now, redeemed_by_org=org_id, redeemed_by_user=user_id)
            .returning(redemption_codes.c.id, redemption_codes.c.amount)
        )
    ).first()
    if claimed is None:
        raise CodeNotRedeemable(
            N_("This code is not valid, or it was already used or has expired.")
        )
    entry = NewEntry(
        LedgerKind.REDEMPTION,
        int(claimed.amount),
        actor=f"user {user_id}",
        reason="redemption code",
        reference=claimed.id,
        idempotency_key=f"code:{claimed.id}",
    )
    return await credit(conn, org_id, entry, actor=Actor(f"user {user_id}", user_id))


@dataclass(frozen=True)
class BatchStanding:
    """A batch as it stands now: how many of its codes were redeemed, and how many can
    still be (neither redeemed nor expired, nor revoked)."""

    batch: str
    # Micro-units, each code's.
    amount: int
    count: int
    redeemed: int
    redeemable: int
    created_at: datetime
    # The latest expiry of its codes (a revocation expires the unredeemed ones).
    expires_at: datetime | None


def _standing_query() -> Any:
    now = utcnow()
    codes = redemption_codes.c
    still_good = and_(
        codes.redeemed_at.is_(None), or_(codes.expires_at.is_(None), codes.expires_at > now)
    )
    return select(
        codes.batch,
        func.max(codes.amount).label("amount"),
        func.count().label("codes"),
        func.count(codes.redeemed_at).label("redeemed"),
        func.coalesce(func.sum(case((still_good, 1), else_=0)), 0).label("redeemable"),
        func.min(codes.created_at).label("created_at"),
        func.max(codes.expires_at).label("expires_at"),
    ).group_by(codes.batch)


def _standing(row: Any) -> BatchStanding:
    return BatchStanding(
        batch=row.batch,
        amount=int(row.amount),
        count=int(row.codes),
        redeemed=int(row.redeemed),
        redeemable=int(row.redeemable),
        created_at=as_utc(row.created_at),
        expires_at=None if row.expires_at is None else as_utc(row.expires_at),
    )


async def list_batches(
    conn: AsyncConnection, *, limit: int = 50, after: str | None = None
) -> list[BatchStanding]:
    """The batches, newest first, a page at a time: keyset on when each was made, then its
    name, from the one after the batch `after` (unknown: refused)."""
    codes = redemption_codes.c
    made = func.min(codes.created_at)
    query = _standing_query()
    if after is not None:
        cursor = (await conn.execute(select(made).where(codes.batch == after))).scalar_one()
        if cursor is None:
            raise InvalidInput(
                N_("no row with id {after!r} to page after"), param="after", after=after
            )
        query = query.having(or_(made < cursor, and_(made == cursor, codes.batch < after)))
    query = query.order_by(made.desc(), codes.batch.desc()).limit(limit)
    return [_standing(row) for row in await conn.execute(query)]


async def get_batch(conn: AsyncConnection, batch: str) -> BatchStanding:
    query = _standing_query().where(redemption_codes.c.batch == batch)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(N_("no code batch {batch!r}"), batch=batch)
    return _standing(row)


async def revoke_batch(conn: AsyncConnection, batch: str, *, actor: Actor = SYSTEM) -> int:
    """Expire, now, every code of the batch that can still be redeemed (the redeemed keep
    their credit); how many. Audited."""
    await get_batch(conn, batch)
    now = utcnow()
    codes = redemption_codes.c
    revoked = await conn.execute(
        update(redemption_codes)
        .where(
            codes.batch == batch,
            codes.redeemed_at.is_(None),
            or_(codes.expires_at.is_(None), codes.expires_at > now),
        )
        .values(expires_at=now)
    )
    await audit.record(
        conn,
        actor,
        "code.revoke",
        object_kind="code_batch",
        object_id=batch,
        changes=audit.created({"revoked": revoked.rowcount}),
    )
    return int(revoked.rowcount)
