"""`aisonar webhook create|list|delete|rotate-secret|deliveries|test`: where an
organization's notices are POSTed, signed."""

from __future__ import annotations

import asyncio

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import get_org_by_name
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli.context import json_option, load_settings, run_in_database, secret_box, split_list
from aisonar.cli.output import emit, emit_one, emit_with_secret
from aisonar.notify import services as notify
from aisonar.notify.models import Delivery, WebhookEndpoint
from aisonar.notify.services import Outcome, send_ping

ENDPOINT_COLUMNS = ("id", "url", "kinds", "description", "created_at")
DELIVERY_COLUMNS = (
    "id",
    "kind",
    "status",
    "attempts",
    "last_status_code",
    "last_error",
    "last_attempt_at",
    "next_attempt_at",
)


@click.group()
def webhook() -> None:
    """Webhook endpoints: each organization's notices, POSTed and signed (Standard Webhooks)."""


@webhook.command("create")
@click.argument("org_name")
@click.argument("url")
@click.option("--kinds", help="Comma-separated notice kinds it receives (default: all).")
@click.option("--description", default="", help="A label for the endpoint.")
@json_option
def webhook_create(
    org_name: str, url: str, kinds: str | None, description: str, as_json: bool
) -> None:
    """Add an endpoint; its signing secret is printed once."""
    box = secret_box()

    async def work(conn: AsyncConnection) -> tuple[WebhookEndpoint, str]:
        org = await get_org_by_name(conn, org_name)
        return await notify.create_endpoint(
            conn,
            box,
            org.id,
            url,
            kinds=split_list(kinds),
            description=description,
            actor=COMMAND_LINE,
        )

    endpoint, secret = run_in_database(work)
    emit_with_secret(endpoint, secret, as_json=as_json)


@webhook.command("list")
@click.argument("org_name")
@json_option
def webhook_list(org_name: str, as_json: bool) -> None:
    """The organization's endpoints."""

    async def work(conn: AsyncConnection) -> list[WebhookEndpoint]:
        return await notify.list_endpoints(conn, (await get_org_by_name(conn, org_name)).id)

    emit(run_in_database(work), ENDPOINT_COLUMNS, as_json=as_json)


@webhook.command("delete")
@click.argument("endpoint_id")
@json_option
def webhook_delete(endpoint_id: str, as_json: bool) -> None:
    """Stop sending to an endpoint; its delivery log stays."""

    async def work(conn: AsyncConnection) -> WebhookEndpoint:
        return await notify.delete_endpoint(conn, endpoint_id, actor=COMMAND_LINE)

    emit_one(run_in_database(work), as_json=as_json)


@webhook.command("rotate-secret")
@click.argument("endpoint_id")
@json_option
def webhook_rotate_secret(endpoint_id: str, as_json: bool) -> None:
    """A new signing secret, used from the next delivery on; printed once."""
    box = secret_box()

    async def work(conn: AsyncConnection) -> tuple[WebhookEndpoint, str]:
        secret = await notify.rotate_secret(conn, box, endpoint_id, actor=COMMAND_LINE)
        return await notify.get_endpoint(conn, endpoint_id), secret

    endpoint, secret = run_in_database(work)
    emit_with_secret(endpoint, secret, as_json=as_json)


@webhook.command("deliveries")
@click.argument("endpoint_id")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@json_option
def webhook_deliveries(endpoint_id: str, limit: int, as_json: bool) -> None:
    """The delivery log, newest first."""

    async def work(conn: AsyncConnection) -> list[Delivery]:
        await notify.get_endpoint(conn, endpoint_id)
        return await notify.delivery_log(conn, endpoint_id, limit=limit)

    emit(run_in_database(work), DELIVERY_COLUMNS, as_json=as_json)


@webhook.command("test")
@click.argument("endpoint_id")
@json_option
def webhook_test(endpoint_id: str, as_json: bool) -> None:
    """Send a signed `ping` now and print the answer; exits 1 unless it was a 2xx."""
    box, settings = secret_box(), load_settings()

    async def work(conn: AsyncConnection) -> tuple[WebhookEndpoint, str]:
        endpoint = await notify.get_endpoint(conn, endpoint_id)
        return endpoint, await notify.endpoint_secret(conn, box, endpoint_id)

    endpoint, secret = run_in_database(work)
    outcome: Outcome = asyncio.run(
        send_ping(
            endpoint.url,
            secret,
            timeout_s=settings.webhook_timeout_s,
            allow_private_networks=settings.webhook_allow_private_networks,
        )
    )
    emit_one(outcome, as_json=as_json)
    if not outcome.delivered:
        raise SystemExit(1)
