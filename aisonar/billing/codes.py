"""Redemption codes: printed once, stored only as hashes, redeemed once, never after
expiry. A code carries 80 random bits, so with throttling guessing one is hopeless."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.billing.ledger import LedgerEntry, LedgerKind, NewEntry, credit
from aisonar.billing.money import format_amount, parse_amount
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.errors import AISonarError, InvalidInput
from aisonar.store.tables import redemption_codes

CODE_PREFIX = "SONAR"
_MAX_BATCH = 10_000


class CodeNotRedeemable(AISonarError):
    status = 400
    kind = "invalid_request_error"
    code = "code_not_redeemable"


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
        raise InvalidInput(f"count must be between 1 and {_MAX_BATCH}", param="count")
    if expires_at is not None and as_utc(expires_at) <= utcnow():
        raise InvalidInput("expiry must be in the future", param="expires")
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
        raise CodeNotRedeemable("This code is not valid, or it was already used or has expired.")
    entry = NewEntry(
        LedgerKind.REDEMPTION,
        int(claimed.amount),
        actor=f"user {user_id}",
        reason="redemption code",
        reference=claimed.id,
        idempotency_key=f"code:{claimed.id}",
    )
    return await credit(conn, org_id, entry, actor=Actor(f"user {user_id}", user_id))
