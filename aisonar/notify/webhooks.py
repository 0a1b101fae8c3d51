"""An organization's webhook endpoints: where its notices are POSTed, each signed with
the endpoint's own secret, which is shown once and sealed at rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.crypto import SecretBox
from aisonar.errors import InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.notify.models import Delivery, DeliveryStatus, WebhookEndpoint
from aisonar.notify.notices import PRIVATE_KINDS
from aisonar.notify.preferences import KINDS
from aisonar.notify.signing import new_secret
from aisonar.store.resealing import Resealed, reseal_column
from aisonar.store.tables import notice_deliveries, notices, webhook_endpoints

_MAX_URL = 2048
_MAX_ENDPOINTS_PER_ORG = 20
_LOG_LIMIT = 1000


def _endpoint(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id,
        org_id=row.org_id,
        url=row.url,
        kinds=None if row.kinds is None else list(row.kinds),
        description=row.description,
        created_at=as_utc(row.created_at),
    )


def _valid_url(url: str) -> str:
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname or len(url) > _MAX_URL:
        raise InvalidInput(N_("webhook URL {url!r} must be an http(s) URL"), param="url", url=url)
    if parsed.username or parsed.password:
        raise InvalidInput(N_("webhook URL must not hold credentials"), param="url")
    return url.strip()


def _valid_kinds(kinds: Sequence[str] | None) -> list[str] | None:
    if kinds is None:
        return None
    private = sorted(set(kinds) & PRIVATE_KINDS)
    if private:
        raise InvalidInput(
            N_("{private} reach only the person they are about, never webhooks"),
            param="kinds",
            private=private,
        )
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        if unknown:
            raise InvalidInput(N_("unknown notice kinds {unknown}"), param="kinds", unknown=unknown)
        raise InvalidInput(N_("give at least one kind"), param="kinds")
    return sorted(set(kinds))


def _live(org_id: str | None = None) -> Any:
    live = webhook_endpoints.c.deleted_at.is_(None)
    return live if org_id is None else and_(live, webhook_endpoints.c.org_id == org_id)


async def create_endpoint(
    conn: AsyncConnection,
    box: SecretBox,
    org_id: str,
    url: str,
    *,
    kinds: Sequence[str] | None = None,
    description: str = "",
    actor: Actor = SYSTEM,
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, which is not shown again."""
    existing = await list_endpoints(conn, org_id)
    if len(existing) >= _MAX_ENDPOINTS_PER_ORG:
        raise InvalidInput(
            N_("an organization has at most {max_endpoints_per_org} endpoints"),
            max_endpoints_per_org=_MAX_ENDPOINTS_PER_ORG,
        )
    endpoint = WebhookEndpoint(
        id=new_id("whk"),
        org_id=org_id,
        url=_valid_url(url),
        kinds=_valid_kinds(kinds),
        description=description.strip()[:200],
        created_at=utcnow(),
    )
    secret = new_secret()
    await conn.execute(insert(webhook_endpoints).values(**vars(endpoint), secret=box.seal(secret)))
    await audit.record(
        conn,
        actor,
        "webhook.create",
        object_kind="webhook",
        object_id=endpoint.id,
        org_id=org_id,
        changes=audit.created({"url": endpoint.url, "kinds": endpoint.kinds}),
    )
    return endpoint, secret


async def list_endpoints(
    conn: AsyncConnection, org_id: str, *, after: str | None = None, limit: int | None = None
) -> list[WebhookEndpoint]:
    """The organization's endpoints, oldest first (keyset on creation, then id), `limit` of
    them (None: all) from the one after the endpoint `after`, which must be one of them."""
    made, endpoint_id = webhook_endpoints.c.created_at, webhook_endpoints.c.id
    query = select(webhook_endpoints).where(_live(org_id))
    if after is not None:
        cursor = (
            await conn.execute(select(made).where(_live(org_id), endpoint_id == after))
        ).first()
        if cursor is None:
            raise InvalidInput(
                N_("no row with id {after!r} to page after"), param="after", after=after
            )
        query = query.where(or_(made > cursor[0], and_(made == cursor[0], endpoint_id > after)))
    rows = await conn.execute(query.order_by(made, endpoint_id).limit(limit))
    return [_endpoint(row) for row in rows]


async def get_endpoint(conn: AsyncConnection, endpoint_id: str) -> WebhookEndpoint:
    row = (
        await conn.execute(
            select(webhook_endpoints).where(_live(), webhook_endpoints.c.id == endpoint_id)
        )
    ).first()
    if row is None:
        raise NotFound(N_("no webhook endpoint with id {endpoint_id!r}"), endpoint_id=endpoint_id)
    return _endpoint(row)


async def endpoint_secret(conn: AsyncConnection, box: SecretBox, endpoint_id: str) -> str:
    sealed = (
        await conn.execute(
            select(webhook_endpoints.c.secret).where(webhook_endpoints.c.id == endpoint_id)
        )
    ).scalar_one()
    return box.open(sealed)


async def reseal_webhook_secrets(engine: AsyncEngine, box: SecretBox) -> Resealed:
    """Every endpoint's signing secret (deleted endpoints' too) sealed under the current
    secret key (`aisonar secret rotate`)."""
    return await reseal_column(
        engine, webhook_endpoints.c.id, webhook_endpoints.c.secret, box.reseal
    )


async def delete_endpoint(
    conn: AsyncConnection, endpoint_id: str, *, actor: Actor = SYSTEM
) -> WebhookEndpoint:
    """Stop sending to it; what is still pending for it is dropped, and its delivery log
    stays."""
    endpoint = await get_endpoint(conn, endpoint_id)
    now = utcnow()
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(deleted_at=now)
    )
    await conn.execute(
        update(notice_deliveries)
        .where(
            notice_deliveries.c.endpoint_id == endpoint_id,
            notice_deliveries.c.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.FAILED, last_error="endpoint deleted")
    )
    await audit.record(
        conn,
        actor,
        "webhook.delete",
        object_kind="webhook",
        object_id=endpoint_id,
        org_id=endpoint.org_id,
        changes=audit.changed({"deleted_at": None}, {"deleted_at": now}),
    )
    return endpoint


async def rotate_secret(
    conn: AsyncConnection, box: SecretBox, endpoint_id: str, *, actor: Actor = SYSTEM
) -> str:
    """A new signing secret, used from the next delivery on."""
    endpoint = await get_endpoint(conn, endpoint_id)
    secret = new_secret()
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(secret=box.seal(secret))
    )
    await audit.record(
        conn,
        actor,
        "webhook.rotate_secret",
        object_kind="webhook",
        object_id=endpoint_id,
        org_id=endpoint.org_id,
    )
    return secret


def delivery_of(row: Any) -> Delivery:
    def moment(value: Any) -> Any:
        return None if value is None else as_utc(value)

    return Delivery(
        id=row.id,
        notice_id=row.notice_id,
        kind=row.kind,
        channel=row.channel,
        user_id=row.user_id,
        endpoint_id=row.endpoint_id,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at),
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        last_attempt_at=moment(row.last_attempt_at),
        delivered_at=moment(row.delivered_at),
        created_at=as_utc(row.created_at),
    )


async def delivery_log(
    conn: AsyncConnection, endpoint_id: str, *, before_id: int | None = None, limit: int = 100
) -> list[Delivery]:
    """The endpoint's deliveries, newest first."""
    query = (
        select(notice_deliveries, notices.c.kind)
        .join(notices, notices.c.id == notice_deliveries.c.notice_id)
        .where(notice_deliveries.c.endpoint_id == endpoint_id)
        .order_by(notice_deliveries.c.id.desc())
        .limit(min(limit, _LOG_LIMIT))
    )
    if before_id is not None:
        query = query.where(notice_deliveries.c.id < before_id)
    return [delivery_of(row) for row in await conn.execute(query)]
