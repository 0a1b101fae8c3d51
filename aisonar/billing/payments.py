"""Payments from outside: a processor credits a balance through a signed webhook.

The signature header is `AISonar-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over
"<t>." + body>` with the operator's AISONAR_PAYMENT_WEBHOOK_SECRET, compared in constant
time; a timestamp more than five minutes off is refused, and each event id credits once."""

from __future__ import annotations

import hashlib
import hmac
import time

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import get_org_by_name
from aisonar.audit.models import Actor
from aisonar.billing.ledger import LedgerEntry, LedgerKind, NewEntry, credit
from aisonar.billing.money import parse_amount
from aisonar.errors import AISonarError, InvalidInput

SIGNATURE_HEADER = b"aisonar-signature"
TOLERANCE_S = 300
PAYMENT_SUCCEEDED = "payment.succeeded"

PAYMENT_WEBHOOK = Actor("payment webhook")


class BadSignature(AISonarError):
    status = 401
    kind = "authentication_error"
    code = "bad_signature"


class PaymentEvent(msgspec.Struct):
    id: str
    type: str
    org: str
    amount: str
    currency: str


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str | None, body: bytes, now: float | None = None) -> None:
    if not header:
        raise BadSignature("Missing AISonar-Signature header.")
    fields = dict(part.partition("=")[::2] for part in header.split(","))
    timestamp, signature = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isdigit() or not signature:
        raise BadSignature("Malformed AISonar-Signature header.")
    if abs((now if now is not None else time.time()) - int(timestamp)) > TOLERANCE_S:
        raise BadSignature("The signature's timestamp is too old or in the future.")
    expected = sign(secret, body, int(timestamp)).partition("v1=")[2]
    if not hmac.compare_digest(expected, signature):
        raise BadSignature("The signature does not match the body.")


def parse_event(body: bytes) -> PaymentEvent:
    try:
        return msgspec.json.decode(body, type=PaymentEvent)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise InvalidInput(f"Invalid payment event: {error}") from None


async def apply_payment(
    conn: AsyncConnection, event: PaymentEvent, currency: str
) -> LedgerEntry | None:
    """Credit a succeeded payment once; other event types are acknowledged and ignored."""
    if event.type != PAYMENT_SUCCEEDED:
        return None
    if event.currency.upper() != currency.upper():
        raise InvalidInput(
            f"payment in {event.currency}, but balances are kept in {currency}", param="currency"
        )
    org = await get_org_by_name(conn, event.org)
    entry = NewEntry(
        LedgerKind.RECHARGE,
        parse_amount(event.amount),
        actor="payment webhook",
        reason=f"payment {event.id}",
        reference=event.id,
        idempotency_key=f"payment:{event.id}",
    )
    return await credit(conn, org.id, entry, actor=PAYMENT_WEBHOOK)
