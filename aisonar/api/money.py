"""Money through the management API: an operator recharges balances and makes
redemption codes; ledgers and usage are downloaded by whoever may see them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from aisonar.accounts.services import administered_org
from aisonar.api import paging
from aisonar.api.paging import After
from aisonar.billing import services as billing
from aisonar.billing.services import AmountText, LedgerEntry, NoteText, ReferenceText, format_amount
from aisonar.exports.services import ExportFormat
from aisonar.web.deps import Acting, Caller, Engine, Operator, ReadEngine, Services
from aisonar.web.downloads import ledger_export, usage_export

router = APIRouter(tags=["money"])
_STRICT = ConfigDict(extra="forbid")


class Recharge(BaseModel):
    model_config = _STRICT
    # Credits, as a decimal string ("12.50").
    amount: AmountText
    note: NoteText = "recharge"
    reference: ReferenceText | None = None
    # The same key twice credits once.
    idempotency_key: ReferenceText | None = None


class LedgerEntryOut(BaseModel):
    id: int
    org_id: str
    kind: str
    amount: str
    balance_after: str
    reason: str
    reference: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerEntryOut:
        return cls(
            id=entry.id,
            org_id=entry.org_id,
            kind=entry.kind,
            amount=format_amount(entry.amount),
            balance_after=format_amount(entry.balance_after),
            reason=entry.reason,
            reference=entry.reference,
            created_at=entry.created_at,
        )


class CodeRequest(BaseModel):
    model_config = _STRICT
    amount: AmountText
    count: int = Field(default=1, ge=1)
    expires_at: datetime | None = None


class CodeBatchOut(BaseModel):
    batch: str
    amount: str
    expires_at: datetime | None
    # Shown once: only their hashes are kept.
    codes: list[str]


@router.post("/api/orgs/{org_id}/recharges", status_code=201)
async def recharge(
    caller: Operator, actor: Acting, running: Services, org_id: str, body: Recharge
) -> LedgerEntryOut:
    """Credit the organization; usable on this server at once, on the others within a
    second."""
    credit = billing.Recharge(**body.model_dump())
    store = running.billing.store
    return LedgerEntryOut.of(
        await billing.recharge_org(running.engine, store, actor, org_id, credit)
    )


@router.post("/api/codes", status_code=201)
async def create_codes(
    caller: Operator, actor: Acting, db: Engine, body: CodeRequest
) -> CodeBatchOut:
    async with db.begin() as conn:
        batch = await billing.create_codes(
            conn, amount=body.amount, count=body.count, expires_at=body.expires_at, actor=actor
        )
    return CodeBatchOut(
        batch=batch.batch, amount=batch.amount, expires_at=batch.expires_at, codes=batch.codes
    )


class CodeBatchStandingOut(BaseModel):
    batch: str
    # Each code's amount, in credits.
    amount: str
    count: int
    redeemed: int
    # Neither redeemed nor expired (a revoked batch has none).
    redeemable: int
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, standing: billing.BatchStanding) -> Self:
        fields = {name: getattr(standing, name) for name in cls.model_fields}
        return cls(**fields | {"amount": format_amount(standing.amount)})


class CodeBatchRevoked(BaseModel):
    # How many codes could still be redeemed and no longer can.
    revoked: int
    batch: CodeBatchStandingOut


@router.get("/api/codes/batches")
async def list_code_batches(
    caller: Operator,
    db: Engine,
    response: Response,
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    # Paging moved to `after`; a client still counting an offset is refused, not sent
    # the first page again and again.
    offset: Annotated[int, Query(ge=0, le=0, include_in_schema=False)] = 0,
) -> list[CodeBatchStandingOut]:
    """Redemption code batches, newest first, with how many codes were redeemed and how
    many still can be; `limit` of them (50 by default), the next page's address in the
    `Link` header (`rel="next"`)."""
    async with db.connect() as conn:
        found = await billing.list_batches(conn, limit=limit + 1, after=after)
    shown = paging.cut(found, limit, response, "/api/codes/batches", _batch)
    return [CodeBatchStandingOut.of(standing) for standing in shown]


def _batch(standing: billing.BatchStanding) -> str:
    return standing.batch


@router.get("/api/codes/batches/{batch}")
async def get_code_batch(caller: Operator, db: Engine, batch: str) -> CodeBatchStandingOut:
    async with db.connect() as conn:
        return CodeBatchStandingOut.of(await billing.get_batch(conn, batch))


@router.post("/api/codes/batches/{batch}/revoke")
async def revoke_code_batch(
    caller: Operator, actor: Acting, db: Engine, batch: str
) -> CodeBatchRevoked:
    """Every code of the batch that can still be redeemed expires now; credit already
    redeemed stays. Audited."""
    async with db.begin() as conn:
        revoked = await billing.revoke_batch(conn, batch, actor=actor)
        standing = await billing.get_batch(conn, batch)
    return CodeBatchRevoked(revoked=revoked, batch=CodeBatchStandingOut.of(standing))


@router.get("/api/orgs/{org_id}/ledger", response_class=StreamingResponse)
async def org_ledger(
    caller: Caller,
    db: ReadEngine,
    org_id: str,
    format: ExportFormat = ExportFormat.JSONL,
    since: datetime | None = None,
) -> StreamingResponse:
    """The organization's ledger, oldest first, streamed."""
    async with db.connect() as conn:
        await administered_org(conn, caller, org_id)
    return ledger_export(db, format, org_id, since)


@router.get("/api/me/ledger", response_class=StreamingResponse)
async def my_ledger(
    caller: Caller,
    db: ReadEngine,
    format: ExportFormat = ExportFormat.JSONL,
    since: datetime | None = None,
) -> StreamingResponse:
    """The caller's organization's ledger (the balance they spend from), streamed."""
    return ledger_export(db, format, caller.org_id, since)


@router.get("/api/me/usage", response_class=StreamingResponse)
async def my_usage(
    caller: Caller,
    db: ReadEngine,
    format: ExportFormat = ExportFormat.JSONL,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    """The caller's own usage events (metadata only), oldest first, streamed."""
    return usage_export(db, format, user_id=caller.user_id, since=since, until=until)


@router.get("/api/orgs/{org_id}/usage", response_class=StreamingResponse)
async def org_usage(
    caller: Caller,
    db: ReadEngine,
    org_id: str,
    format: ExportFormat = ExportFormat.JSONL,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    """Every usage event of the organization, streamed."""
    async with db.connect() as conn:
        await administered_org(conn, caller, org_id)
    return usage_export(db, format, org_id=org_id, since=since, until=until)


@router.get("/api/usage", response_class=StreamingResponse)
async def all_usage(
    caller: Operator,
    db: ReadEngine,
    format: ExportFormat = ExportFormat.JSONL,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StreamingResponse:
    """Every usage event of the installation, streamed (operators)."""
    return usage_export(db, format, since=since, until=until)
