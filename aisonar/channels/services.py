"""Create, list and load channels; upstream keys are sealed before they touch the database.
Operators add and change them through every front end (the API, the console; the caller
is checked before), with the rules the API's bodies follow for each field. A channel
without a base URL takes its provider's public API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import Field
from pydantic.dataclasses import dataclass
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor

# `allows`, `default_base_url`, `parse_options`, `service_account` and the presets are
# named again (`as`) for the front ends, which reach them here.
from aisonar.channels.credentials import service_account as service_account
from aisonar.channels.credentials import validate_credentials
from aisonar.channels.model_names import allows as allows
from aisonar.channels.models import (
    DEFAULT_PRIORITY,
    DEFAULT_WEIGHT,
    SERVER_TIMEOUTS,
    Channel,
    ChannelTimeouts,
    ChannelWithSecret,
    Provider,
    parse_model_map,
    validate_routing,
    validate_timeouts,
)
from aisonar.channels.options import default_base_url as default_base_url
from aisonar.channels.options import parse_options as parse_options
from aisonar.channels.options import validate_options
from aisonar.channels.presets import PRESET_OPTION as PRESET_OPTION
from aisonar.channels.presets import PRESETS as PRESETS
from aisonar.channels.presets import preset_named as preset_named
from aisonar.clock import new_id, utcnow
from aisonar.crypto import SecretBox
from aisonar.errors import AlreadyExists, InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.store.changes import record_change
from aisonar.store.resealing import Resealed, reseal_column
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
        priority=row.priority,
        weight=row.weight,
        timeouts=ChannelTimeouts(
            row.timeout_connect_s, row.timeout_first_byte_s, row.timeout_total_s
        ),
        options=dict(row.options or {}),
    )


def _columns(channel: Channel) -> dict[str, Any]:
    values = {name: value for name, value in vars(channel).items() if name != "timeouts"}
    timeouts = channel.timeouts
    return {
        **values,
        "options": dict(channel.options) or None,
        "timeout_connect_s": timeouts.connect_s,
        "timeout_first_byte_s": timeouts.first_byte_s,
        "timeout_total_s": timeouts.total_s,
    }


def _validate_base_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(N_("base URL {url!r} must be an http(s) URL"), param="base_url", url=url)
    return url.rstrip("/")


def _validate_secret(provider: str, options: Mapping[str, str], api_key: str) -> None:
    """The credentials' shape; a host that checks no key (Ollama, vLLM) may have none."""
    preset = preset_named(provider, options)
    if api_key == "" and preset is not None and not preset.needs_key:
        return
    validate_credentials(provider, api_key)


async def create_channel(
    conn: AsyncConnection,
    box: SecretBox,
    *,
    name: str,
    provider: str,
    base_url: str,
    api_key: str,
    models: str,
    priority: int = DEFAULT_PRIORITY,
    weight: int = DEFAULT_WEIGHT,
    timeouts: ChannelTimeouts = SERVER_TIMEOUTS,
    options: Mapping[str, str] | None = None,
    actor: Actor = SYSTEM,
) -> Channel:
    if provider not in set(Provider):
        raise InvalidInput(N_("unknown provider {provider!r}"), param="provider", provider=provider)
    if not name.strip():
        raise InvalidInput(N_("channel name must not be empty"), param="name")
    if not base_url:
        raise InvalidInput(
            N_("the {provider} provider has no public endpoint: give the channel's base URL"),
            param="base_url",
            provider=provider,
        )
    validate_routing(priority, weight)
    validate_timeouts(timeouts)
    checked_options = validate_options(provider, options or {})
    _validate_secret(provider, checked_options, api_key)
    channel = Channel(
        id=new_id("chn"),
        name=name.strip(),
        provider=provider,
        base_url=_validate_base_url(base_url),
        models=parse_model_map(models),
        enabled=True,
        priority=priority,
        weight=weight,
        timeouts=timeouts,
        options=checked_options,
    )
    try:
        await conn.execute(
            insert(channels).values(
                **_columns(channel), api_key_encrypted=box.seal(api_key), created_at=utcnow()
            )
        )
    except IntegrityError as error:
        raise AlreadyExists(N_("channel {name!r} already exists"), name=channel.name) from error
    await record_change(conn, CHANNEL_ENTITY, channel.id)
    await audit.record(
        conn,
        actor,
        "channel.create",
        object_kind="channel",
        object_id=channel.id,
        changes=audit.created(_audited(channel)),
    )
    return channel


async def get_channel(conn: AsyncConnection, box: SecretBox, name: str) -> ChannelWithSecret:
    row = (await conn.execute(select(channels).where(channels.c.name == name))).first()
    if row is None:
        raise NotFound(N_("no channel named {name!r}"), name=name)
    return ChannelWithSecret(_channel(row), box.open(row.api_key_encrypted))


async def update_channel(
    conn: AsyncConnection,
    box: SecretBox,
    name: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    models: str | None = None,
    priority: int | None = None,
    weight: int | None = None,
    timeouts: ChannelTimeouts | None = None,
    options: Mapping[str, str] | None = None,
    enabled: bool | None = None,
    actor: Actor = SYSTEM,
) -> Channel:
    """Change the given fields of a channel (`options` replaces them all); every server
    picks the change up at once."""
    current = (await get_channel(conn, box, name)).channel
    changed = Channel(
        id=current.id,
        name=current.name,
        provider=current.provider,
        base_url=current.base_url if base_url is None else _validate_base_url(base_url),
        models=current.models if models is None else parse_model_map(models),
        enabled=current.enabled if enabled is None else enabled,
        priority=current.priority if priority is None else priority,
        weight=current.weight if weight is None else weight,
        timeouts=current.timeouts if timeouts is None else timeouts,
        options=current.options if options is None else validate_options(current.provider, options),
    )
    validate_routing(changed.priority, changed.weight)
    validate_timeouts(changed.timeouts)
    if api_key is not None:
        _validate_secret(current.provider, changed.options, api_key)
    values = _columns(changed)
    if api_key is not None:
        values["api_key_encrypted"] = box.seal(api_key)
    await conn.execute(update(channels).where(channels.c.id == current.id).values(values))
    await record_change(conn, CHANNEL_ENTITY, current.id)
    # The upstream key itself is never recorded, only that it changed.
    key_change = {"api_key_changed": [None, True]} if api_key is not None else {}
    await audit.record(
        conn,
        actor,
        "channel.update",
        object_kind="channel",
        object_id=current.id,
        changes=audit.changed(_audited(current), _audited(changed)) | key_change,
    )
    return changed


def _audited(channel: Channel) -> dict[str, Any]:
    """A channel's fields as the audit log shows them (never its upstream key)."""
    fields = _columns(channel)
    return {name: value for name, value in fields.items() if name != "id"}


async def list_channels(conn: AsyncConnection) -> list[Channel]:
    rows = await conn.execute(select(channels).order_by(channels.c.created_at))
    return [_channel(row) for row in rows]


async def reseal_secrets(engine: AsyncEngine, box: SecretBox) -> Resealed:
    """Every channel's upstream secret sealed under the current secret key (`aisonar
    secret rotate`); the plain secrets change, so no server reloads its channels."""
    return await reseal_column(engine, channels.c.id, channels.c.api_key_encrypted, box.reseal)


async def load_enabled_channels(conn: AsyncConnection, box: SecretBox) -> list[ChannelWithSecret]:
    rows = await conn.execute(
        select(channels).where(channels.c.enabled.is_(True)).order_by(channels.c.created_at)
    )
    return [ChannelWithSecret(_channel(row), box.open(row.api_key_encrypted)) for row in rows]


# Operators' changes, with the rules of each field as people type it.
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
    models: Annotated[ModelsText, Field(min_length=1)]
    # Empty only for a host that checks no key (the ollama and vllm presets).
    api_key: ApiKeyText = ""
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
    return await create_channel(
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
        current = (await get_channel(conn, box, name)).channel.timeouts
        timeouts = ChannelTimeouts(
            connect_s=_timeout(settings, "timeout_connect_s", current.connect_s),
            first_byte_s=_timeout(settings, "timeout_first_byte_s", current.first_byte_s),
            total_s=_timeout(settings, "timeout_total_s", current.total_s),
        )
    return await update_channel(
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
