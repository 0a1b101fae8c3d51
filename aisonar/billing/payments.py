"""Payments from outside: a processor credits a balance through a signed webhook.

The signature header is `AISonar-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over
"<t>." + body>` with the operator's AISONAR_PAYMENT_WEBHOOK_SECRET, compared in constant
time; a header of any other shape, or a timestamp more than five minutes off, is
refused. Each event id credits once: the same event again is acknowledged, the same id
with another organization, amount or currency is a conflict."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Annotated

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.audit.models import Actor
from aisonar.billing.ledger import LedgerEntry, LedgerKind, NewEntry, credit, entry_by_id
from aisonar.billing.money import parse_amount
from aisonar.errors import AISonarError, InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.store.tables import PAYMENT_KEYS, ledger_entries, organizations

SIGNATURE_HEADER = b"aisonar-signature"
TOLERANCE_S = 300
PAYMENT_SUCCEEDED = "payment.succeeded"
_PAYMENT_PREFIX = "payment:"
# ASCII digits only, and few enough that int() and float arithmetic cannot fail on them.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")

PAYMENT_WEBHOOK = Actor("payment webhook")


class BadSignature(AISonarError):
    status = 401
    kind = "authentication_error"
    code = "bad_signature"


class PaymentConflict(AISonarError):
    status = 409
    kind = "conflict_error"
    code = "payment_conflict"

    def __init__(self, event_id: str) -> None:
        super().__init__(
            "Payment event {event_id!r} was already credited with another organization, "
            "amount or currency; nothing was credited.",
            param="id",
            event_id=event_id,
        )


class PaymentEvent(msgspec.Struct):
    # Short enough for the ledger's idempotency key with its prefix.
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=190)]
    type: str
    org: str
    amount: str
    currency: str


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _signature_fields(header: str) -> tuple[int, str]:
    """The timestamp and signature of a header; fields of other names are ignored."""
    fields: dict[str, str] = {}
    for part in header.split(","):
        name, equals, value = part.strip().partition("=")
        if not equals or name in fields:
            raise BadSignature("Malformed AISonar-Signature header.")
        fields[name] = value
    timestamp, signature = fields.get("t", ""), fields.get("v1", "")
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        raise BadSignature("Malformed AISonar-Signature header.")
    return int(timestamp), signature.lower()


def verify(secret: str, header: str | None, body: bytes, now: float | None = None) -> None:
    if not header:
        raise BadSignature("Missing AISonar-Signature header.")
    timestamp, signature = _signature_fields(header)
    if abs((now if now is not None else time.time()) - timestamp) > TOLERANCE_S:
        raise BadSignature("The signature's timestamp is too old or in the future.")
    expected = sign(secret, body, timestamp).partition("v1=")[2]
    if not hmac.compare_digest(expected, signature):
        raise BadSignature("The signature does not match the body.")


def parse_event(body: bytes) -> PaymentEvent:
    try:
        return msgspec.json.decode(body, type=PaymentEvent)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise InvalidInput(f"Invalid payment event: {error}") from None


async def _credited(conn: AsyncConnection, key: str) -> LedgerEntry | None:
    """The entry an event id credited, to whichever organization (the ledger's partial
    index on payment keys finds it)."""
    query = select(ledger_entries.c.id).where(PAYMENT_KEYS, ledger_entries.c.idempotency_key == key)
    row = (await conn.execute(query)).first()
    return None if row is None else await entry_by_id(conn, row.id)


async def _org_id(conn: AsyncConnection, name: str) -> str | None:
    """The id of the organization an event names, read as the ledger reads its balance."""
    query = select(organizations.c.id).where(organizations.c.name == name)
    return (await conn.execute(query)).scalar_one_or_none()


async def apply_payment(
    conn: AsyncConnection, event: PaymentEvent, currency: str
) -> LedgerEntry | None:
    """Credit a succeeded payment once; other event types are acknowledged and ignored."""
    if event.type != PAYMENT_SUCCEEDED:
        return None
    amount = parse_amount(event.amount)
    same_currency = event.currency.upper() == currency.upper()
    key = _PAYMENT_PREFIX + event.id
    earlier = await _credited(conn, key)
    if earlier is not None:
        if (
            not same_currency
            or earlier.amount != amount
            or earlier.org_id != await _org_id(conn, event.org)
        ):
            raise PaymentConflict(event.id)
        return earlier
    if not same_currency:
        raise InvalidInput(
            f"payment in {event.currency}, but balances are kept in {currency}", param="currency"
        )
    org_id = await _org_id(conn, event.org)
    if org_id is None:
        raise NotFound(N_("no organization named {name!r}"), name=event.org)
    entry = NewEntry(
        LedgerKind.RECHARGE,
        amount,
        actor="payment webhook",
        reason=f"payment {event.id}",
        reference=event.id,
        idempotency_key=key,
    )
    return await credit(conn, org_id, entry, actor=PAYMENT_WEBHOOK)


async def receive_payment(
    engine: AsyncEngine, event: PaymentEvent, currency: str
) -> LedgerEntry | None:
    """`apply_payment` in a transaction of its own. When a concurrent delivery of the
    same event id commits first, this one's entry breaks the unique index on payment
    keys: it is then answered as that delivery's replay."""
    try:
        async with engine.begin() as conn:
            return await apply_payment(conn, event, currency)
    except IntegrityError:
        async with engine.begin() as conn:
            return await apply_payment(conn, event, currency)
