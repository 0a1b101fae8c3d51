"""Billing's HTTP endpoints: redeeming a code (`POST /api/me/redeem`, with an API key)
and the payment webhook (`POST /api/payments/webhook`, signed)."""

from __future__ import annotations

import time

import msgspec
import orjson

from aisonar.billing import codes, payments
from aisonar.billing.money import format_amount
from aisonar.errors import InvalidInput, NotFound
from aisonar.gateway.http import Exchange
from aisonar.gateway.metering import RequestMeter
from aisonar.gateway.pipeline import GatewayServices, authenticate_exchange


class _RedeemRequest(msgspec.Struct):
    code: str


async def redeem_code(services: GatewayServices, exchange: Exchange, meter: RequestMeter) -> None:
    identity = meter.identity = await authenticate_exchange(services, exchange)
    body = await exchange.read_body(services.max_body_bytes)
    try:
        code = msgspec.json.decode(body, type=_RedeemRequest).code
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise InvalidInput(f'Body must be {{"code": "..."}}: {error}', param="code") from None
    window = services.billing.redeem_failures
    now = time.monotonic()
    window.check(identity.key_id, now)
    try:
        async with services.engine.begin() as conn:
            entry = await codes.redeem(conn, code, org_id=identity.org_id, user_id=identity.user_id)
    except codes.CodeNotRedeemable:
        window.fail(identity.key_id, now)
        raise
    # Usable at once here; other servers learn of it through the change log.
    await services.billing.store.credit(entry.org_id, entry.id, entry.amount)
    answer = {
        "redeemed": format_amount(entry.amount),
        "balance": format_amount(entry.balance_after),
    }
    await exchange.respond(200, orjson.dumps(answer))


async def payment_webhook(
    services: GatewayServices, exchange: Exchange, meter: RequestMeter
) -> None:
    secret = services.billing.payment_webhook_secret
    if not secret:
        raise NotFound("Payments are not configured (AISONAR_PAYMENT_WEBHOOK_SECRET).")
    body = await exchange.read_body(services.max_body_bytes)
    payments.verify(secret, exchange.header(payments.SIGNATURE_HEADER), body)
    event = payments.parse_event(body)
    async with services.engine.begin() as conn:
        entry = await payments.apply_payment(conn, event, services.billing.currency)
    if entry is not None:
        await services.billing.store.credit(entry.org_id, entry.id, entry.amount)
    await exchange.respond(200, orjson.dumps({"received": True, "credited": entry is not None}))
