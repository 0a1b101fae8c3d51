"""The operators' upstream channels: the list (provider, base URL, models, priority and
weight, enabled, and how this server's circuit breaker sees each, as `GET
/api/channels/health` says), creating one, changing one, turning one off or on, and the
one-token test of `POST /api/channels/{name}/test`, its answer shown on the page; through
the services behind `/api/channels` (`channels/services.py`, `gateway/channel_checks.py`).
An upstream key is written, never shown: its field is a password field, left empty to
keep the key the channel has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.channels import services as channels
from aisonar.channels.models import DEFAULT_BASE_URLS, Channel, Provider
from aisonar.channels.services import (
    ChannelSettings,
    NewChannel,
    add_channel,
    change_channel_named,
    parse_options,
)
from aisonar.console.csrf import Form, checked_form
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router, see_other
from aisonar.console.validation import invalid
from aisonar.console.visit import Member, MemberVisit
from aisonar.errors import AISonarError, NotFound
from aisonar.gateway.channel_checks import (
    ChannelStanding,
    ChannelTested,
    channels_health,
    run_channel_test,
)
from aisonar.i18n import N_
from aisonar.web.deps import Box, Config, Engine, Services, operator

router = console_router()
_NEW = TypeAdapter(NewChannel)
_SETTINGS = TypeAdapter(ChannelSettings)

CHANNELS_PATH = "/console/operator/channels"
_CREATE_FIELDS = ("name", "provider", "base_url", "options", "models", "priority", "weight")
_TIMEOUTS = ("timeout_connect_s", "timeout_first_byte_s", "timeout_total_s")
_EDIT_FIELDS = ("base_url", "options", "models", "priority", "weight", *_TIMEOUTS)
# The labels of the channel forms' fields (their msgids in the templates).
CHANNEL_LABELS: Mapping[str, str] = {
    "provider": N_("Provider"),
    "base_url": N_("Base URL"),
    "options": N_("Provider options"),
    "api_key": N_("Upstream API key"),
    "models": N_("Models"),
    "priority": N_("Priority"),
    "weight": N_("Weight"),
    "timeout_connect_s": N_("Connect timeout (seconds)"),
    "timeout_first_byte_s": N_("First byte timeout (seconds)"),
    "timeout_total_s": N_("Total timeout (seconds)"),
}


@dataclass(frozen=True)
class ChannelRow:
    channel: Channel
    health: ChannelStanding | None
    models: str


def options_text(channel: Channel) -> str:
    """The channel's options as the forms take them: `api_version=2024-10-21`."""
    return ", ".join(f"{name}={value}" for name, value in channel.options.items())


def _options(text: str) -> dict[str, str]:
    return parse_options(item for item in (part.strip() for part in text.split(",")) if item)


def channel_path(channel_id: str, *parts: str) -> str:
    return "/".join((CHANNELS_PATH, channel_id, *parts))


def models_text(channel: Channel) -> str:
    """The channel's models as `POST /api/channels` takes them: `a, alias=upstream`."""
    return ", ".join(
        name if name == upstream else f"{name}={upstream}"
        for name, upstream in channel.models.items()
    )


async def channel_by_id(conn: AsyncConnection, channel_id: str) -> Channel:
    for channel in await channels.list_channels(conn):
        if channel.id == channel_id:
            return channel
    raise NotFound(N_("no channel with id {channel_id!r}"), channel_id=channel_id)


async def _list_page(
    member: MemberVisit,
    running: Services,
    *,
    form: Mapping[str, str] | None = None,
    error: str | None = None,
    tested: ChannelTested | None = None,
    test_error: str | None = None,
    status: int = 200,
) -> Response:
    db = running.engine
    async with db.connect() as conn:
        every = await channels.list_channels(conn)
    standings = await channels_health(db, running.channels.health)
    health = {found.name: found for found in standings}
    rows = [
        ChannelRow(channel, health.get(channel.name), models_text(channel)) for channel in every
    ]
    blank = dict.fromkeys(_CREATE_FIELDS, "") | {
        "provider": Provider.OPENAI.value,
        "priority": "0",
        "weight": "1",
    }
    context: dict[str, Any] = {
        "rows": rows,
        "form": form or blank,
        "error": error,
        "providers": [
            (provider.value, DEFAULT_BASE_URLS.get(provider, "")) for provider in Provider
        ],
        "tested": tested,
        "test_error": test_error,
    }
    return page(member, "operator_channels.html", context, status=status)


@router.get(CHANNELS_PATH)
async def channels_page(member: Member, running: Services) -> Response:
    await operator(member.principal)
    return await _list_page(member, running)


def _given(form: Form, names: tuple[str, ...]) -> dict[str, str]:
    return {name: form.text(name) for name in names}


@router.post(CHANNELS_PATH)
async def create_channel(request: Request, member: Member, running: Services, box: Box) -> Response:
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = _given(form, _CREATE_FIELDS)
    fields: dict[str, Any] = {
        "name": typed["name"],
        "provider": typed["provider"],
        "base_url": typed["base_url"] or None,
        "api_key": form.secret("api_key"),
        "models": typed["models"],
    }
    fields.update({name: typed[name] for name in ("priority", "weight") if typed[name]})
    try:
        fields["options"] = _options(typed["options"]) or None
        new = _NEW.validate_python(fields)
        async with running.engine.begin() as conn:
            await add_channel(conn, box, member.actor, new)
    except ValidationError as error:
        message = error_text(invalid(error, CHANNEL_LABELS), member.language)
        return await _list_page(member, running, form=typed, error=message, status=400)
    except AISonarError as error:
        message = error_text(error, member.language)
        return await _list_page(member, running, form=typed, error=message, status=error.status)
    return see_other(CHANNELS_PATH)


async def _edit_page(
    member: MemberVisit,
    channel: Channel,
    form: Mapping[str, str],
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = {"channel": channel, "form": form, "error": error}
    return page(member, "operator_channel_edit.html", context, status=status)


def _shown(channel: Channel) -> dict[str, str]:
    timeouts = channel.timeouts

    def seconds(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    return {
        "base_url": channel.base_url,
        "options": options_text(channel),
        "models": models_text(channel),
        "priority": str(channel.priority),
        "weight": str(channel.weight),
        "timeout_connect_s": seconds(timeouts.connect_s),
        "timeout_first_byte_s": seconds(timeouts.first_byte_s),
        "timeout_total_s": seconds(timeouts.total_s),
    }


@router.get(CHANNELS_PATH + "/{channel_id}")
async def edit_page(member: Member, db: Engine, channel_id: str) -> Response:
    await operator(member.principal)
    async with db.connect() as conn:
        channel = await channel_by_id(conn, channel_id)
    return await _edit_page(member, channel, _shown(channel))


@router.post(CHANNELS_PATH + "/{channel_id}")
async def change_channel(
    request: Request, member: Member, db: Engine, box: Box, channel_id: str
) -> Response:
    """Every field of the form is sent, as a `PATCH` naming them all would: an empty
    timeout takes the server's setting; an empty key keeps the channel's."""
    await operator(member.principal)
    form = await checked_form(request, member)
    typed = _given(form, _EDIT_FIELDS)
    fields: dict[str, Any] = {
        name: typed[name] for name in ("base_url", "models", "priority", "weight")
    }
    fields.update({name: typed[name] or None for name in _TIMEOUTS})
    fields["cleared"] = {name for name in _TIMEOUTS if not typed[name]}
    if form.secret("api_key"):
        fields["api_key"] = form.secret("api_key")
    async with db.connect() as conn:
        channel = await channel_by_id(conn, channel_id)
    try:
        fields["options"] = _options(typed["options"])
        settings = _SETTINGS.validate_python(fields)
        async with db.begin() as conn:
            await change_channel_named(conn, box, member.actor, channel.name, settings)
    except ValidationError as error:
        message = error_text(invalid(error, CHANNEL_LABELS), member.language)
        return await _edit_page(member, channel, typed, message, 400)
    except AISonarError as error:
        message = error_text(error, member.language)
        return await _edit_page(member, channel, typed, message, error.status)
    return see_other(CHANNELS_PATH)


@router.post(CHANNELS_PATH + "/{channel_id}/enabled")
async def turn_on_or_off(
    request: Request, member: Member, db: Engine, box: Box, channel_id: str
) -> Response:
    """`enabled=yes` puts the channel back in rotation, anything else takes it out; from the
    channel's own page (`back=channel`) the answer is that page again, else the list."""
    await operator(member.principal)
    form = await checked_form(request, member)
    async with db.begin() as conn:
        channel = await channel_by_id(conn, channel_id)
        switched = ChannelSettings(enabled=form.text("enabled") == "yes")
        await change_channel_named(conn, box, member.actor, channel.name, switched)
    return see_other(channel_path(channel.id) if form.text("back") == "channel" else CHANNELS_PATH)


@router.post(CHANNELS_PATH + "/{channel_id}/test")
async def test_channel(
    request: Request, member: Member, running: Services, box: Box, settings: Config, channel_id: str
) -> Response:
    """The test's answer, on the list of channels (nothing changes, so no redirect)."""
    await operator(member.principal)
    form = await checked_form(request, member)
    async with running.engine.connect() as conn:
        channel = await channel_by_id(conn, channel_id)
    model = form.text("model") or None
    try:
        tested = await run_channel_test(running.engine, box, settings, channel.name, model)
    except AISonarError as error:
        message = error_text(error, member.language)
        return await _list_page(member, running, test_error=message, status=error.status)
    return await _list_page(member, running, tested=tested)
