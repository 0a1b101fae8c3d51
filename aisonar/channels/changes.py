"""Adding and changing upstream channels, for operators through every front end (the API,
the console; the caller is checked before), with the rules the API's bodies follow for
each field. A channel without a base URL takes its provider's public API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import Actor
from aisonar.channels import services as channels
from aisonar.channels.models import Channel, ChannelTimeouts
from aisonar.channels.options import default_base_url
from aisonar.crypto import SecretBox

BaseUrl = Annotated[str, Field(max_length=2000)]
# An API key, or a cloud account's JSON credentials (a service account's key file is ~2.4 KB).
ApiKeyText = Annotated[str, Field(max_length=20_000)]
# Comma-separated: `gpt-4o`, `fast=gpt-4o-mini`, `claude-*`.
ModelsText = Annotated[str, Field(max_length=10_000)]
ChannelName = Annotated[str, Field(min_length=1, max_length=200)]
# A provider's own settings: {"api_version": "2024-10-21"} (channels/options.py).
Options = Annotated[dict[str, str], Field(max_length=20)]


Timeout = Literal["timeout_connect_s", "timeout_first_byte_s", "timeout_total_s"]


@dataclass(frozen=True)
class NewChannel:
    name: ChannelName
    provider: str
    api_key: Annotated[ApiKeyText, Field(min_length=1)]
    models: Annotated[ModelsText, Field(min_length=1)]
    # None: the provider's public API.
    base_url: Annotated[BaseUrl, Field(min_length=1)] | None = None
    priority: int = 0
    weight: int = 1
    options: Options | None = None


@dataclass(frozen=True)
class ChannelSettings:
    """What changes about a channel; None leaves a setting as it is, unless it is a
    timeout named in `cleared`, which then takes the server's setting."""

    base_url: BaseUrl | None = None
    api_key: ApiKeyText | None = None
    models: ModelsText | None = None
    priority: int | None = None
    weight: int | None = None
    enabled: bool | None = None
    timeout_connect_s: float | None = None
    timeout_first_byte_s: float | None = None
    timeout_total_s: float | None = None
    # Replaces all the channel's options.
    options: Options | None = None
    cleared: frozenset[str] = frozenset()


async def add_channel(
    conn: AsyncConnection, box: SecretBox, actor: Actor, new: NewChannel
) -> Channel:
    options = new.options or {}
    return await channels.create_channel(
        conn,
        box,
        name=new.name,
        provider=new.provider,
        base_url=new.base_url or default_base_url(new.provider, options) or "",
        api_key=new.api_key,
        models=new.models,
        priority=new.priority,
        weight=new.weight,
        options=options,
        actor=actor,
    )


def _timeout(settings: ChannelSettings, name: Timeout, current: float | None) -> float | None:
    value: float | None = getattr(settings, name)
    return value if value is not None or name in settings.cleared else current


async def change_channel_named(
    conn: AsyncConnection, box: SecretBox, actor: Actor, name: str, settings: ChannelSettings
) -> Channel:
    """Change what `settings` gives; every server picks the change up at once."""
    timeouts = None
    given = (settings.timeout_connect_s, settings.timeout_first_byte_s, settings.timeout_total_s)
    if settings.cleared or any(value is not None for value in given):
        current = (await channels.get_channel(conn, box, name)).channel.timeouts
        timeouts = ChannelTimeouts(
            connect_s=_timeout(settings, "timeout_connect_s", current.connect_s),
            first_byte_s=_timeout(settings, "timeout_first_byte_s", current.first_byte_s),
            total_s=_timeout(settings, "timeout_total_s", current.total_s),
        )
    return await channels.update_channel(
        conn,
        box,
        name,
        base_url=settings.base_url,
        api_key=settings.api_key,
        models=settings.models,
        priority=settings.priority,
        weight=settings.weight,
        timeouts=timeouts,
        options=settings.options,
        enabled=settings.enabled,
        actor=actor,
    )
