"""An organization's webhook endpoints, for its admins (and operators): add one (its
signing secret is shown once), list, delete, rotate the secret, send a test, and read
the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.services import Principal, administered_org
from aisonar.api import paging
from aisonar.api.paging import After, Limit
from aisonar.errors import NotFound
from aisonar.i18n import N_
from aisonar.notify import services as notify
from aisonar.notify.models import Delivery, WebhookEndpoint
from aisonar.notify.services import send_ping
from aisonar.web.deps import Acting, Box, Caller, Config, Engine
from aisonar.web.errors import Forbidden
from aisonar.web.ids import RowId

router = APIRouter(tags=["webhooks"])


class WebhookOut(BaseModel):
    id: str
    org_id: str
    url: str
    # The notice kinds it receives; null is every kind.
    kinds: list[str] | None
    description: str
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookOut:
        return cls(**vars(endpoint))


class WebhookCreated(WebhookOut):
    # Verify each delivery's `webhook-signature` with it (Standard Webhooks); shown once.
    secret: str


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048)
    kinds: list[str] | None = Field(default=None, max_length=50)
    description: str = Field(default="", max_length=200)


class SecretOut(BaseModel):
    secret: str


class DeliveryOut(BaseModel):
    id: int
    notice_id: int
    kind: str
    # pending (waiting for its next attempt), delivered, or failed.
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        fields = vars(delivery)
        return cls(**{name: fields[name] for name in cls.model_fields})


class TestOut(BaseModel):
    delivered: bool
    status_code: int | None
    error: str | None


async def _administered_endpoint(
    conn: AsyncConnection, caller: Principal, endpoint_id: str
) -> WebhookEndpoint:
    endpoint = await notify.get_endpoint(conn, endpoint_id)
    if not caller.administers(endpoint.org_id):
        if caller.org_id == endpoint.org_id:
            raise Forbidden(N_("Only the organization's admins may do this."))
        raise NotFound(N_("no webhook endpoint with id {endpoint_id!r}"), endpoint_id=endpoint_id)
    return endpoint


@router.get("/api/orgs/{org_id}/webhooks")
async def list_webhooks(
    caller: Caller,
    db: Engine,
    response: Response,
    org_id: str,
    after: After = None,
    limit: Limit = None,
) -> list[WebhookOut]:
    """Oldest first; `?after=<id>&limit=N` pages them, the next page's address in the
    `Link` header (`rel="next"`)."""
    page = paging.page(after, limit)
    async with db.connect() as conn:
        await administered_org(conn, caller, org_id)
        found = await notify.list_endpoints(conn, org_id, after=page.after, limit=page.limit)
    path = f"/api/orgs/{org_id}/webhooks"
    return [WebhookOut.of(endpoint) for endpoint in paging.cut(found, limit, response, path, _id)]


def _id(endpoint: WebhookEndpoint) -> str:
    return endpoint.id


@router.post("/api/orgs/{org_id}/webhooks", status_code=201)
async def create_webhook(
    caller: Caller, actor: Acting, db: Engine, box: Box, org_id: str, body: WebhookCreate
) -> WebhookCreated:
    """Notices of the organization (of the kinds given, or all) are POSTed to the URL,
    signed as Standard Webhooks specifies."""
    async with db.begin() as conn:
        await administered_org(conn, caller, org_id)
        endpoint, secret = await notify.create_endpoint(
            conn,
            box,
            org_id,
            body.url,
            kinds=body.kinds,
            description=body.description,
            actor=actor,
        )
    return WebhookCreated(**WebhookOut.of(endpoint).model_dump(), secret=secret)


@router.get("/api/webhooks/{endpoint_id}")
async def get_webhook(caller: Caller, db: Engine, endpoint_id: str) -> WebhookOut:
    async with db.connect() as conn:
        return WebhookOut.of(await _administered_endpoint(conn, caller, endpoint_id))


@router.delete("/api/webhooks/{endpoint_id}")
async def delete_webhook(caller: Caller, actor: Acting, db: Engine, endpoint_id: str) -> WebhookOut:
    """Stop sending to it; its delivery log stays readable by operators' exports."""
    async with db.begin() as conn:
        await _administered_endpoint(conn, caller, endpoint_id)
        return WebhookOut.of(await notify.delete_endpoint(conn, endpoint_id, actor=actor))


@router.post("/api/webhooks/{endpoint_id}/rotate-secret")
async def rotate_webhook_secret(
    caller: Caller, actor: Acting, db: Engine, box: Box, endpoint_id: str
) -> SecretOut:
    """A new signing secret, used from the next delivery on; shown once."""
    async with db.begin() as conn:
        await _administered_endpoint(conn, caller, endpoint_id)
        return SecretOut(secret=await notify.rotate_secret(conn, box, endpoint_id, actor=actor))


@router.get("/api/webhooks/{endpoint_id}/deliveries")
async def webhook_deliveries(
    caller: Caller,
    db: Engine,
    endpoint_id: str,
    before_id: Annotated[RowId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """The delivery log, newest first: each notice sent to the endpoint, its attempts,
    and the last answer."""
    async with db.connect() as conn:
        await _administered_endpoint(conn, caller, endpoint_id)
        log = await notify.delivery_log(conn, endpoint_id, before_id=before_id, limit=limit)
    return [DeliveryOut.of(delivery) for delivery in log]


@router.post("/api/webhooks/{endpoint_id}/test")
async def test_webhook(
    caller: Caller, db: Engine, box: Box, settings: Config, endpoint_id: str
) -> TestOut:
    """Send a signed `ping` to the endpoint now and report its answer."""
    async with db.connect() as conn:
        endpoint = await _administered_endpoint(conn, caller, endpoint_id)
        secret = await notify.endpoint_secret(conn, box, endpoint_id)
    outcome = await send_ping(
        endpoint.url,
        secret,
        timeout_s=settings.webhook_timeout_s,
        allow_private_networks=settings.webhook_allow_private_networks,
    )
    return TestOut(
        delivered=outcome.delivered, status_code=outcome.status_code, error=outcome.error
    )
