"""Carrying out approved deletion requests once due: each server looks for them every
`AISONAR_DELETION_INTERVAL_S`, and an approval without delay runs one at once. A request
is claimed first (a conditional UPDATE, so servers sharing a database erase it once; a
claim left by a server that died is taken over after an hour), then erased in one
transaction that also records the receipt. The storage is then compacted, so that the
erased bytes are gone from the files too (`storage.py`; when a transaction older than
the erasure holds them, on a later round), and the receipt is mailed to the address the
account had, held in memory only (nothing of it is stored any more)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM
from aisonar.clock import as_utc, utcnow
from aisonar.i18n import Language
from aisonar.notify.direct import EmailNotSent, Recipient, send_now
from aisonar.notify.sender import Mail
from aisonar.privacy.erasure import erase_person, placeholder_email
from aisonar.privacy.requests import DeletionRequest, DeletionStatus, get_request
from aisonar.privacy.storage import compact_storage, server_now
from aisonar.store.tables import deletion_requests, organizations, users

log = logging.getLogger(__name__)
CLAIM_LEASE = timedelta(hours=1)
# Clocks of the servers and of the database may differ by this much.
_CLOCK_SKEW = timedelta(minutes=1)
# What stays, and why: the receipt tells the person (its mail says the same in their
# language).
KEPT = (
    {
        "what": "ledger entries",
        "why": "the organization's financial record: every movement of money stays",
    },
    {
        "what": "usage events and rollups, without IP addresses",
        "why": "the organization's usage and billing history",
    },
    {
        "what": "audit entries, without email address, name or IP address",
        "why": "the organization's record of who changed what, showing the anonymous account",
    },
    {
        "what": "the account's id, anonymized",
        "why": "the records kept refer to it; it names nobody now",
    },
)


def _due(now: datetime) -> Any:
    return (
        deletion_requests.c.status == DeletionStatus.APPROVED.value,
        deletion_requests.c.erase_after <= now,
        or_(
            deletion_requests.c.erasure_started_at.is_(None),
            deletion_requests.c.erasure_started_at < now - CLAIM_LEASE,
        ),
    )


async def _claim(engine: AsyncEngine, request_id: str, now: datetime) -> Recipient | None:
    """The person to send the receipt to, if this server claimed the request."""
    async with engine.begin() as conn:
        claimed = await conn.execute(
            update(deletion_requests)
            .where(deletion_requests.c.id == request_id, *_due(now))
            .values(erasure_started_at=now)
        )
        if claimed.rowcount != 1:
            return None
        person = (
            await conn.execute(
                select(
                    users.c.name,
                    users.c.email,
                    users.c.language,
                    organizations.c.name.label("org_name"),
                )
                .join(organizations, organizations.c.id == users.c.org_id)
                .join(deletion_requests, deletion_requests.c.user_id == users.c.id)
                .where(deletion_requests.c.id == request_id)
            )
        ).one()
    return Recipient(person.name, person.email, Language(person.language), person.org_name)


def receipt(request: DeletionRequest, erased: dict[str, int], at: datetime) -> dict[str, Any]:
    return {
        "request_id": request.id,
        "user_id": request.user_id,
        "completed_at": at.isoformat(),
        "erased": {"profile": ["email", "name", "company", "password"], **erased},
        "kept": list(KEPT),
    }


async def _erase(engine: AsyncEngine, request_id: str) -> dict[str, Any]:
    async with engine.begin() as conn:
        request = await get_request(conn, request_id)
        erased = await erase_person(conn, request.user_id, placeholder_email())
        now = utcnow()
        record = receipt(request, erased, now)
        await conn.execute(
            update(deletion_requests)
            .where(deletion_requests.c.id == request_id)
            .values(status=DeletionStatus.COMPLETED.value, completed_at=now, receipt=record)
        )
        await audit.record(
            conn,
            SYSTEM,
            "user.erase",
            object_kind="user",
            object_id=request.user_id,
            org_id=request.org_id,
            changes={"deletion_request": [None, request_id], "erased": [None, erased]},
        )
    return record


async def _mail_receipt(mail: Mail | None, to: Recipient, record: dict[str, Any]) -> bool:
    if mail is None:
        return False
    try:
        await send_now(mail, to, "deletion_completed", record)
    except EmailNotSent:
        return False
    return True


async def erase_request(engine: AsyncEngine, mail: Mail | None, request_id: str) -> bool:
    """Erase the person of an approved, due request unless another server is at it;
    returns whether this call did it."""
    recipient = await _claim(engine, request_id, utcnow())
    if recipient is None:
        return False
    record = await _erase(engine, request_id)
    compacted = await compact_storage(engine, record["user_id"], await server_now(engine))
    mailed = await _mail_receipt(mail, recipient, record)
    async with engine.begin() as conn:
        await conn.execute(
            update(deletion_requests)
            .where(deletion_requests.c.id == request_id)
            .values(
                receipt={**record, "mailed": mailed},
                storage_compacted_at=utcnow() if compacted else None,
            )
        )
    log.info("deletion request %s completed (receipt mailed: %s)", request_id, mailed)
    if not compacted:
        _deferred(request_id)
    return True


def _deferred(request_id: str) -> None:
    log.warning(
        "deletion request %s: a transaction older than the erasure still holds the erased "
        "rows, so the database files keep their bytes until the next round compacts them",
        request_id,
    )


async def compact_erased(engine: AsyncEngine) -> int:
    """Compact the storage of completed erasures not compacted yet; returns how many
    were."""
    async with engine.connect() as conn:
        pending = list(
            await conn.execute(
                select(
                    deletion_requests.c.id,
                    deletion_requests.c.user_id,
                    deletion_requests.c.completed_at,
                ).where(
                    deletion_requests.c.status == DeletionStatus.COMPLETED.value,
                    deletion_requests.c.storage_compacted_at.is_(None),
                )
            )
        )
    done = 0
    for request in pending:
        committed = as_utc(request.completed_at) + _CLOCK_SKEW
        if not await compact_storage(engine, request.user_id, committed):
            _deferred(request.id)
            continue
        async with engine.begin() as conn:
            await conn.execute(
                update(deletion_requests)
                .where(deletion_requests.c.id == request.id)
                .values(storage_compacted_at=utcnow())
            )
        done += 1
    return done


async def erase_due(engine: AsyncEngine, mail: Mail | None) -> int:
    """Erase every approved request that is due, and compact what earlier erasures
    could not yet; returns how many requests this server erased."""
    async with engine.connect() as conn:
        due = list(
            (
                await conn.execute(
                    select(deletion_requests.c.id)
                    .where(*_due(utcnow()))
                    .order_by(deletion_requests.c.erase_after)
                )
            ).scalars()
        )
    erased = sum([await erase_request(engine, mail, request_id) for request_id in due])
    await compact_erased(engine)
    return erased


async def keep_erasing(engine: AsyncEngine, mail: Mail | None, interval_s: float) -> None:
    while True:
        try:
            await erase_due(engine, mail)
        except (SQLAlchemyError, OSError):
            log.exception("erasing approved deletion requests failed; will retry")
        await asyncio.sleep(interval_s)
