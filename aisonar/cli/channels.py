"""`aisonar channel ...`: upstream provider accounts."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import COMMAND_LINE
from aisonar.channels import services
from aisonar.channels.models import (
    DEFAULT_PRIORITY,
    DEFAULT_WEIGHT,
    Channel,
    ChannelTimeouts,
    ChannelWithSecret,
    Provider,
)
from aisonar.channels.services import (
    PRESET_OPTION,
    PRESETS,
    default_base_url,
    parse_options,
    preset_named,
)
from aisonar.cli.context import json_option, load_settings, run_in_database, secret_box
from aisonar.cli.output import as_record, emit, emit_one
from aisonar.crypto import SecretBox
from aisonar.errors import AISonarError

CHANNEL_COLUMNS = (
    "id",
    "name",
    "provider",
    "base_url",
    "models",
    "priority",
    "weight",
    "timeout_connect_s",
    "timeout_first_byte_s",
    "timeout_total_s",
    "options",
    "enabled",
)
SERVER_SETTING_WORD = "default"
F = TypeVar("F", bound=Callable[..., Any])


class _ServerSetting:
    """What `--timeout-X default` parses to: back to the server's setting."""

    def __repr__(self) -> str:
        return SERVER_SETTING_WORD


SERVER_SETTING = _ServerSetting()
TimeoutOption = float | _ServerSetting | None


class TimeoutSeconds(click.ParamType[float | _ServerSetting, Any]):
    """A positive number of seconds, or the word `default` for the server's setting."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float | _ServerSetting:
        if isinstance(value, float | _ServerSetting):
            return value
        text = str(value).strip()
        if text.lower() == SERVER_SETTING_WORD:
            return SERVER_SETTING
        try:
            seconds = float(text)
        except ValueError:
            self.fail(f"{value!r} is neither a number of seconds nor `default`", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r}: a timeout is a positive number of seconds", param, ctx)
        return seconds


_TIMEOUT_OPTIONS = (
    ("--timeout-connect", "timeout_connect", "to open a connection", "CONNECT"),
    ("--timeout-first-byte", "timeout_first_byte", "to the answer's first byte", "FIRST_BYTE"),
    ("--timeout-total", "timeout_total", "for the whole answer", "TOTAL"),
)


def timeout_options(command: F) -> F:
    """`--timeout-connect|first-byte|total S`: seconds, or `default` for the server's."""
    for flag, dest, what, setting in reversed(_TIMEOUT_OPTIONS):
        command = click.option(
            flag,
            dest,
            type=TimeoutSeconds(),
            metavar="S|default",
            help=f"Seconds {what}; `default`: the server's AISONAR_UPSTREAM_{setting}_TIMEOUT_S.",
        )(command)
    return command


def _pick(current: float | None, given: TimeoutOption) -> float | None:
    if given is None:
        return current
    return None if isinstance(given, _ServerSetting) else given


def _timeouts(
    current: ChannelTimeouts,
    connect: TimeoutOption,
    first_byte: TimeoutOption,
    total: TimeoutOption,
) -> ChannelTimeouts:
    """The current timeouts with the given options applied, one field at a time."""
    return ChannelTimeouts(
        connect_s=_pick(current.connect_s, connect),
        first_byte_s=_pick(current.first_byte_s, first_byte),
        total_s=_pick(current.total_s, total),
    )


def option_options(command: F) -> F:
    """`--option NAME=VALUE`, repeatable: the provider's own settings."""
    return click.option(
        "--option",
        "options",
        multiple=True,
        metavar="NAME=VALUE",
        help="A provider setting, repeatable: api_version (azure), region (bedrock), "
        "project and location (vertex), preset (openai); on update, the ones given replace all.",
    )(command)


def credentials_options(command: F) -> F:
    """`--api-key KEY` or `--credentials-file PATH` (a cloud account's JSON credentials)."""
    command = click.option(
        "--credentials-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A JSON file of credentials instead of --api-key: Entra ID client credentials "
        "(azure), AWS keys (bedrock), a service account's key file (vertex). Stored encrypted.",
    )(command)
    return click.option("--api-key", help="The upstream secret (stored encrypted).")(command)


def _secret(api_key: str | None, credentials_file: Path | None) -> str | None:
    if api_key is not None and credentials_file is not None:
        raise click.UsageError("give --api-key or --credentials-file, not both")
    if credentials_file is not None:
        return credentials_file.read_text(encoding="utf-8")
    return api_key


def _options(items: tuple[str, ...]) -> dict[str, str]:
    try:
        return parse_options(items)
    except AISonarError as error:
        raise click.BadParameter(error.message, param_hint="--option") from error


def _record(channel: Channel, *, as_json: bool) -> dict[str, Any]:
    """JSON keeps the nested `timeouts`; a table has a column each, `default` for unset."""
    record = as_record(channel)
    if as_json:
        return record
    timeouts = record.pop("timeouts")
    enabled = record.pop("enabled")
    for field, value in timeouts.items():
        record[f"timeout_{field}"] = SERVER_SETTING_WORD if value is None else value
    return {**record, "enabled": enabled}


@click.group()
def channel() -> None:
    """Upstream channels."""


@channel.command("create")
@click.argument("name")
@click.option("--provider", type=click.Choice([p.value for p in Provider]), required=True)
@click.option(
    "--base-url",
    help="The base URL the provider's SDK takes; defaults to the provider's public API "
    "(azure: the resource endpoint, https://NAME.openai.azure.com).",
)
@option_options
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    help="An OpenAI-compatible host (with --provider openai): its base URL, prices and "
    "usage fields; the same as --option preset=NAME.",
)
@credentials_options
@click.option(
    "--models",
    required=True,
    help="Comma-separated: a,b,alias=upstream-model,claude-*,gpt-*=openai/gpt-*",
)
@click.option(
    "--priority",
    type=int,
    default=DEFAULT_PRIORITY,
    show_default=True,
    help="Higher priorities are tried first.",
)
@click.option(
    "--weight",
    type=int,
    default=DEFAULT_WEIGHT,
    show_default=True,
    help="Share of traffic within its priority; 0: standby.",
)
@timeout_options
@json_option
def channel_create(
    name: str,
    provider: str,
    base_url: str | None,
    options: tuple[str, ...],
    preset: str | None,
    api_key: str | None,
    credentials_file: Path | None,
    models: str,
    priority: int,
    weight: int,
    timeout_connect: TimeoutOption,
    timeout_first_byte: TimeoutOption,
    timeout_total: TimeoutOption,
    as_json: bool,
) -> None:
    """Connect an upstream provider account."""
    given_options = _options(options)
    if preset is not None:
        given_options[PRESET_OPTION] = preset
    secret = _secret(api_key, credentials_file)
    if secret is None:
        found = preset_named(provider, given_options)
        if found is None or found.needs_key:
            raise click.UsageError("give the upstream secret: --api-key or --credentials-file")
        secret = ""
    box = secret_box()
    timeouts = _timeouts(ChannelTimeouts(), timeout_connect, timeout_first_byte, timeout_total)

    async def work(conn: AsyncConnection) -> Channel:
        return await services.create_channel(
            conn,
            box,
            name=name,
            provider=provider,
            base_url=base_url or default_base_url(provider, given_options) or "",
            api_key=secret,
            models=models,
            priority=priority,
            weight=weight,
            timeouts=timeouts,
            options=given_options,
            actor=COMMAND_LINE,
        )

    emit_one(_record(run_in_database(work), as_json=as_json), as_json=as_json)


@channel.command("update")
@click.argument("name")
@click.option("--base-url", help="A new base URL.")
@option_options
@credentials_options
@click.option("--models", help="A new model list, replacing the whole list.")
@click.option("--priority", type=int, help="Higher priorities are tried first.")
@click.option("--weight", type=int, help="Share of traffic within its priority; 0: standby.")
@timeout_options
@json_option
def channel_update(
    name: str,
    base_url: str | None,
    options: tuple[str, ...],
    api_key: str | None,
    credentials_file: Path | None,
    models: str | None,
    priority: int | None,
    weight: int | None,
    timeout_connect: TimeoutOption,
    timeout_first_byte: TimeoutOption,
    timeout_total: TimeoutOption,
    as_json: bool,
) -> None:
    """Change some of a channel's settings; the others stay as they are. Running
    servers pick the change up within a second."""
    timeouts_given = (timeout_connect, timeout_first_byte, timeout_total) != (None, None, None)
    secret = _secret(api_key, credentials_file)
    if (base_url, secret, models, priority, weight) == (None,) * 5 and not (
        timeouts_given or options
    ):
        raise click.UsageError(
            "nothing to change: give at least one of --base-url, --option, --api-key, "
            "--credentials-file, --models, --priority, --weight, --timeout-connect, "
            "--timeout-first-byte, --timeout-total"
        )
    given_options = _options(options) if options else None
    box = secret_box()

    async def work(conn: AsyncConnection) -> Channel:
        timeouts = None
        if timeouts_given:
            current = (await services.get_channel(conn, box, name)).channel.timeouts
            timeouts = _timeouts(current, timeout_connect, timeout_first_byte, timeout_total)
        return await services.update_channel(
            conn,
            box,
            name,
            base_url=base_url,
            api_key=secret,
            models=models,
            priority=priority,
            weight=weight,
            timeouts=timeouts,
            options=given_options,
            actor=COMMAND_LINE,
        )

    emit_one(_record(run_in_database(work), as_json=as_json), as_json=as_json)


def _set_enabled(name: str, enabled: bool, as_json: bool) -> None:
    box = secret_box()

    async def work(conn: AsyncConnection) -> Channel:
        return await services.update_channel(conn, box, name, enabled=enabled, actor=COMMAND_LINE)

    emit_one(_record(run_in_database(work), as_json=as_json), as_json=as_json)


@channel.command("disable")
@click.argument("name")
@json_option
def channel_disable(name: str, as_json: bool) -> None:
    """Stop routing to a channel; running servers drop it within a second."""
    _set_enabled(name, False, as_json)


@channel.command("enable")
@click.argument("name")
@json_option
def channel_enable(name: str, as_json: bool) -> None:
    """Route to a channel again."""
    _set_enabled(name, True, as_json)


@channel.command("list")
@json_option
def channel_list(as_json: bool) -> None:
    """List channels (never their secrets)."""
    found = run_in_database(services.list_channels)
    records = [_record(item, as_json=as_json) for item in found]
    emit(records, CHANNEL_COLUMNS, as_json=as_json)


@channel.command("test")
@click.argument("name")
@click.option(
    "--model",
    help="The model to ask for, as clients name it (default: the first listed by name).",
)
@json_option
def channel_test(name: str, model: str | None, as_json: bool) -> None:
    """Send the upstream a one-token request with the channel's own key, enabled or
    not; nothing is billed. Exits 1 unless the upstream answers 2xx."""
    settings = load_settings()
    box = SecretBox(settings.resolved_secret_key(), settings.secret_key_previous)

    async def work(conn: AsyncConnection) -> ChannelWithSecret:
        return await services.get_channel(conn, box, name)

    entry = run_in_database(work)
    # The gateway's modules load only when a test runs, not for every command.
    from aisonar.gateway.channel_test import model_to_test, round_trip

    try:
        requested, upstream_model = model_to_test(entry.channel, model)
    except AISonarError as error:
        raise click.BadParameter(error.message, param_hint="--model") from error
    defaults = ChannelTimeouts(
        connect_s=settings.upstream_connect_timeout_s, total_s=settings.upstream_total_timeout_s
    )
    outcome = asyncio.run(round_trip(entry, upstream_model, defaults))
    usage = outcome.usage
    record: dict[str, Any] = {
        "channel": entry.channel.name,
        "provider": entry.channel.provider,
        "enabled": entry.channel.enabled,
        "model": requested,
        "upstream_model": upstream_model,
        "status": outcome.status,
        "latency_ms": outcome.latency_ms,
        "input_tokens": None if usage is None else usage.input_tokens,
        "output_tokens": None if usage is None else usage.output_tokens,
    }
    if as_json:
        record["ok"] = outcome.error is None
        record["error"] = outcome.error
    emit_one(record, as_json=as_json)
    if outcome.error is not None:
        raise click.ClickException(f"channel {entry.channel.name!r} failed: {outcome.error}")
