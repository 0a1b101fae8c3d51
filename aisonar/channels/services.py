"""Create, list and load channels; upstream keys are sealed before they touch the database."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.channels.models import Channel, ChannelWithSecret, Provider, parse_model_map
from aisonar.clock import new_id, utcnow
from aisonar.crypto import SecretBox
from aisonar.errors import AlreadyExists, InvalidInput
from aisonar.store.changes import record_change
from aisonar.store.tables import channels

CHANNEL_ENTITY = "channel"


def _channel(row: Any) -> Channel:
    return Channel(
        id=row.id,
        name=row.name,
        provider=row.provider,
        base_url=row.base_url,
        models=dict(row.models),
        enabled=bool(row.enabled),
    )


def _validate_base_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(f"base URL {url!r} must be an http(s) URL", param="base_url")
    return url.rstrip("/")


async def create_channel(
    conn: AsyncConnection,
    box: SecretBox,
    *,
    name: str,
    provider: str,
    base_url: str,
    api_key: str,
    models: str,
) -> Channel:
    if provider not in set(Provider):
        raise InvalidInput(f"unknown provider {provider!r}", param="provider")
    if not name.strip():
        raise InvalidInput("channel name must not be empty", param="name")
    channel = Channel(
        id=new_id("chn"),
        name=name.strip(),
        provider=provider,
        base_url=_validate_base_url(base_url),
        models=parse_model_map(models),
        enabled=True,
    )
    try:
        await conn.execute(
            insert(channels).values(
                **vars(channel), api_key_encrypted=box.seal(api_key), created_at=utcnow()
            )
        )
    except IntegrityError as error:
        raise AlreadyExists(f"channel {channel.name!r} already exists") from error
    await record_change(conn, CHANNEL_ENTITY, channel.id)
    return channel


async def list_channels(conn: AsyncConnection) -> list[Channel]:
    rows = await conn.execute(select(channels).order_by(channels.c.created_at))
    return [_channel(row) for row in rows]


async def load_enabled_channels(conn: AsyncConnection, box: SecretBox) -> list[ChannelWithSecret]:
    rows = await conn.execute(
        select(channels).where(channels.c.enabled.is_(True)).order_by(channels.c.created_at)
    )
    return [ChannelWithSecret(_channel(row), box.open(row.api_key_encrypted)) for row in rows]
