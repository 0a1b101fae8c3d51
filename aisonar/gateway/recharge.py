"""Recharges over the gateway's HTTP: redeeming a code (`POST /api/me/redeem`, with an API
key) and the payment webhook (`POST /api/payments/webhook`, signed). They translate the
request to billing's use cases (`billing/codes.py`, `billing/payments.py`) and credit the
gateway's balance store at once."""

from __future__ import annotations

import time

import msgspec
import orjson

from aisonar.billing import codes, payments
from aisonar.billing.ledger import LedgerEntry
from aisonar.billing.money import format_amount
from aisonar.errors import InvalidInput, NotFound
from aisonar.gateway.http import Exchange
from aisonar.gateway.pipeline import authenticate_exchange
from aisonar.gateway.services import GatewayServices
from aisonar.i18n import N_


class _RedeemRequest(msgspec.Struct):
    code: str


async def redeem_code(services: GatewayServices, exchange: Exchange) -> None:
    identity = await authenticate_exchange(services, exchange)
    body = await exchange.read_body(services.max_body_bytes)
    try:
        code = msgspec.json.decode(body, type=_RedeemRequest).code
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise InvalidInput(
            N_('Body must be {{"code": "..."}}: {error}'), param="code", error=error
        ) from None
    entry = await redeem_for(
        services, code, org_id=identity.org_id, user_id=identity.user_id, tries=identity.key_id
    )
    answer = {
        "redeemed": format_amount(entry.amount),
        "balance": format_amount(entry.balance_after),
    }
    await exchange.respond(200, orjson.dumps(answer))


async def redeem_for(
    services: GatewayServices, code: str, *, org_id: str, user_id: str, tries: str
) -> LedgerEntry:
    """Redeem the code for the organization (`POST /api/me/redeem`, and the console's
    billing page): failures are counted against `tries` (the API key, or the console's
    person), and too many in an hour are refused before the code is looked at."""
    window = services.billing.redeem_failures
    now = time.monotonic()
    window.check(tries, now)
    try:
        async with services.engine.begin() as conn:
            entry = await codes.redeem(conn, code, org_id=org_id, user_id=user_id)
    except codes.CodeNotRedeemable:
        window.fail(tries, now)
        raise
    # Usable at once here; other servers learn of it through the change log.
    await services.billing.store.credit(entry.org_id, entry.id, entry.amount)
    return entry


async def payment_webhook(services: GatewayServices, exchange: Exchange) -> None:
    secret = services.billing.payment_webhook_secret
    if not secret:
        raise NotFound(N_("Payments are not configured (AISONAR_PAYMENT_WEBHOOK_SECRET)."))
    body = await exchange.read_body(services.max_body_bytes)
    payments.verify(secret, exchange.header(payments.SIGNATURE_HEADER), body)
    event = payments.parse_event(body)
    entry = await payments.receive_payment(services.engine, event, services.billing.currency)
    if entry is not None:
        await services.billing.store.credit(entry.org_id, entry.id, entry.amount)
    await exchange.respond(200, orjson.dumps({"received": True, "credited": entry is not None}))
