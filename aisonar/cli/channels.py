"""`aisonar channel ...`: upstream provider accounts."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.audit.models import COMMAND_LINE
from aisonar.channels import services
from aisonar.channels.model_names import is_pattern, substitute, wildcard_part
from aisonar.channels.models import (
    DEFAULT_BASE_URLS,
    DEFAULT_PRIORITY,
    DEFAULT_WEIGHT,
    Channel,
    ChannelTimeouts,
    ChannelWithSecret,
    Provider,
)
from aisonar.cli.context import json_option, load_settings, run_in_database
from aisonar.cli.output import as_record, emit, emit_one
from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.errors import AISonarError

if TYPE_CHECKING:
    from aisonar.gateway.formats.usage import TokenUsage

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
    "enabled",
)
# `channel test` waits at most this long for the whole answer, whatever the timeouts say.
TEST_TIMEOUT_CAP_S = 60.0
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


def _secret_box() -> SecretBox:
    return SecretBox(load_settings().resolved_secret_key())


@click.group()
def channel() -> None:
    """Upstream channels."""


@channel.command("create")
@click.argument("name")
@click.option("--provider", type=click.Choice([p.value for p in Provider]), required=True)
@click.option(
    "--base-url",
    help="The base URL the provider's SDK takes; defaults to the provider's public API.",
)
@click.option("--api-key", required=True, help="The upstream secret (stored encrypted).")
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
    api_key: str,
    models: str,
    priority: int,
    weight: int,
    timeout_connect: TimeoutOption,
    timeout_first_byte: TimeoutOption,
    timeout_total: TimeoutOption,
    as_json: bool,
) -> None:
    """Connect an upstream provider account."""
    box = _secret_box()
    timeouts = _timeouts(ChannelTimeouts(), timeout_connect, timeout_first_byte, timeout_total)

    async def work(conn: AsyncConnection) -> Channel:
        return await services.create_channel(
            conn,
            box,
            name=name,
            provider=provider,
            base_url=base_url or DEFAULT_BASE_URLS[provider],
            api_key=api_key,
            models=models,
            priority=priority,
            weight=weight,
            timeouts=timeouts,
            actor=COMMAND_LINE,
        )

    emit_one(_record(run_in_database(work), as_json=as_json), as_json=as_json)


@channel.command("update")
@click.argument("name")
@click.option("--base-url", help="A new base URL.")
@click.option("--api-key", help="A new upstream secret (stored encrypted).")
@click.option("--models", help="A new model list, replacing the whole list.")
@click.option("--priority", type=int, help="Higher priorities are tried first.")
@click.option("--weight", type=int, help="Share of traffic within its priority; 0: standby.")
@timeout_options
@json_option
def channel_update(
    name: str,
    base_url: str | None,
    api_key: str | None,
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
    if (base_url, api_key, models, priority, weight) == (None,) * 5 and not timeouts_given:
        raise click.UsageError(
            "nothing to change: give at least one of --base-url, --api-key, --models, "
            "--priority, --weight, --timeout-connect, --timeout-first-byte, --timeout-total"
        )
    box = _secret_box()

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
            api_key=api_key,
            models=models,
            priority=priority,
            weight=weight,
            timeouts=timeouts,
            actor=COMMAND_LINE,
        )

    emit_one(_record(run_in_database(work), as_json=as_json), as_json=as_json)


def _set_enabled(name: str, enabled: bool, as_json: bool) -> None:
    box = _secret_box()

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


def _test_model(channel: Channel, model: str | None) -> tuple[str, str]:
    """The model to ask for, as clients name it, and the name sent upstream."""
    if model is None:
        named = [name for name in channel.models if not is_pattern(name)]
        if not named:
            raise click.UsageError(
                f"channel {channel.name!r} lists only patterns "
                f"({', '.join(channel.models)}); name a model with --model"
            )
        return named[0], channel.models[named[0]]
    if is_pattern(model):
        raise click.BadParameter("a model name, not a pattern", param_hint="--model")
    if model in channel.models:
        return model, channel.models[model]
    for pattern, upstream in channel.models.items():
        part = wildcard_part(pattern, model) if is_pattern(pattern) else None
        if part is not None:
            return model, substitute(upstream, part)
    raise click.ClickException(
        f"channel {channel.name!r} does not serve {model!r}; "
        f"its models: {', '.join(channel.models)}"
    )


@dataclass(frozen=True)
class RoundTrip:
    status: int | None
    latency_ms: int
    usage: TokenUsage | None
    error: str | None


def _hide(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text


async def round_trip(
    entry: ChannelWithSecret, upstream_model: str, settings: Settings
) -> RoundTrip:
    """One minimal generation ("ping", one token) with the channel's own key and
    adapter, outside the gateway: nothing is routed, recorded or billed."""
    # The gateway's modules load only when a test runs, not for every command.
    from aisonar.gateway.providers.registry import ADAPTERS
    from aisonar.gateway.upstream import upstream_error

    channel, adapter = entry.channel, ADAPTERS[entry.channel.provider]
    hub = {
        "model": upstream_model,
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 1,
    }
    body = adapter.request_from_hub(hub, default_max_tokens=1)
    own = channel.timeouts
    total_s = min(own.total_s or settings.upstream_total_timeout_s, TEST_TIMEOUT_CAP_S)
    connect_s = own.connect_s or settings.upstream_connect_timeout_s
    timeout = aiohttp.ClientTimeout(total=total_s, sock_connect=connect_s)
    started = time.perf_counter()

    def elapsed_ms() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(
                adapter.url(channel.base_url, upstream_model, False),
                data=body,
                headers=adapter.headers(entry),
            ) as response,
        ):
            answer = await response.read()
            status, headers = response.status, dict(response.headers)
    except TimeoutError:
        return RoundTrip(
            None, elapsed_ms(), None, f"the upstream did not answer within {total_s:g} s"
        )
    except aiohttp.ClientError as error:
        reason = _hide(str(error) or type(error).__name__, entry.api_key)
        return RoundTrip(None, elapsed_ms(), None, f"the upstream could not be reached: {reason}")
    latency_ms = elapsed_ms()
    if not 200 <= status < 300:
        message = upstream_error(status, answer, headers, entry.api_key).message
        return RoundTrip(status, latency_ms, None, f"HTTP {status}: {message}")
    try:
        adapter.response_to_hub(answer, upstream_model)
        usage = adapter.body_usage(answer)
    except (ValueError, TypeError, KeyError, AttributeError, AISonarError):
        unreadable = f"HTTP {status}, but not an answer in the {channel.provider} format"
        return RoundTrip(status, latency_ms, None, unreadable)
    return RoundTrip(status, latency_ms, usage, None)


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
    box = SecretBox(settings.resolved_secret_key())

    async def work(conn: AsyncConnection) -> ChannelWithSecret:
        return await services.get_channel(conn, box, name)

    entry = run_in_database(work)
    requested, upstream_model = _test_model(entry.channel, model)
    outcome = asyncio.run(round_trip(entry, upstream_model, settings))
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
