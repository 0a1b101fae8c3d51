"""`aisonar channel create|update|disable|enable|list|test` with routing settings, and
organizations restricted to some models, against SQLite and PostgreSQL alike.

The commands run in a thread (`asyncio.to_thread`) so that the session's event loop,
which serves the fake upstream and the gateway, keeps running meanwhile. Channels get
unique names and unique model names, and are disabled at the end, so that they never
change how other tests are routed."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from aisonar.cli import main
from aisonar.store.tables import change_log
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway, free_port
from tests.conftest import UPSTREAM_KEY, WRONG_UPSTREAM_KEY
from tests.support import Backend, cli_environment

Invoke = Callable[..., Awaitable[Result]]


@pytest.fixture
async def aisonar(backend: Backend) -> AsyncIterator[Invoke]:
    """Run a command; assert it exits 0 (or not, with ok=False). Disables, at the end,
    every channel the test created."""
    env = cli_environment(backend)
    created: list[str] = []

    async def invoke(*args: str, ok: bool = True) -> Result:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, list(args), env=env, catch_exceptions=False
        )
        assert (result.exit_code == 0) is ok, result.output
        if args[:2] == ("channel", "create") and result.exit_code == 0:
            created.append(args[2])
        return result

    yield invoke
    for name in created:
        await invoke("channel", "disable", name)


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


async def channel_changes(backend: Backend, channel_id: str) -> int:
    async with backend.engine.connect() as conn:
        query = (
            select(func.count())
            .select_from(change_log)
            .where(change_log.c.entity == "channel", change_log.c.entity_id == channel_id)
        )
        return int((await conn.execute(query)).scalar_one())


async def create_channel(
    aisonar: Invoke,
    name: str,
    *options: str,
    provider: str = "openai",
    base_url: str = "https://api.example.com/v1",
    api_key: str = "sk-cli-routing-secret",
    models: str | None = None,
) -> dict[str, Any]:
    created = await aisonar(
        "channel",
        "create",
        name,
        "--provider",
        provider,
        "--base-url",
        base_url,
        "--api-key",
        api_key,
        "--models",
        models or f"{name}-model",
        *options,
        "--json",
    )
    record: dict[str, Any] = as_json(created)
    return record


async def listed(aisonar: Invoke, name: str) -> dict[str, Any]:
    channels = as_json(await aisonar("channel", "list", "--json"))
    found: dict[str, Any] = next(c for c in channels if c["name"] == name)
    return found


async def test_create_with_routing_options_then_list(aisonar: Invoke) -> None:
    name = unique("routed")
    created = await create_channel(
        aisonar,
        name,
        "--priority",
        "5",
        "--weight",
        "3",
        "--timeout-connect",
        "2.5",
        "--timeout-total",
        "90",
        models=f"{name}-a,{name}-x-*=up-*",
    )
    expected_timeouts = {"connect_s": 2.5, "first_byte_s": None, "total_s": 90.0}
    assert (created["priority"], created["weight"]) == (5, 3)
    assert created["timeouts"] == expected_timeouts
    assert created["models"] == {f"{name}-a": f"{name}-a", f"{name}-x-*": "up-*"}

    shown = await listed(aisonar, name)
    assert (shown["priority"], shown["weight"], shown["enabled"]) == (5, 3, True)
    assert shown["timeouts"] == expected_timeouts

    table = (await aisonar("channel", "list")).stdout
    header, *rows = table.splitlines()
    for column in ("PRIORITY", "WEIGHT", "TIMEOUT_CONNECT_S", "TIMEOUT_TOTAL_S"):
        assert column in header
    row = next(line for line in rows if f" {name} " in line)
    assert "2.5" in row and "90.0" in row and "default" in row
    assert "sk-cli-routing-secret" not in table


async def test_defaults_when_no_routing_option_is_given(aisonar: Invoke) -> None:
    created = await create_channel(aisonar, unique("plain"))
    assert (created["priority"], created["weight"]) == (0, 1)
    assert created["timeouts"] == {"connect_s": None, "first_byte_s": None, "total_s": None}


async def test_update_changes_only_the_given_fields(backend: Backend, aisonar: Invoke) -> None:
    name = unique("upd")
    created = await create_channel(
        aisonar, name, "--priority", "2", "--timeout-connect", "3", "--timeout-first-byte", "20"
    )
    before = await channel_changes(backend, created["id"])

    updated = as_json(await aisonar("channel", "update", name, "--weight", "7", "--json"))
    assert updated["weight"] == 7
    unchanged = ("priority", "base_url", "models", "enabled", "timeouts", "provider", "id")
    assert {k: updated[k] for k in unchanged} == {k: created[k] for k in unchanged}
    assert await channel_changes(backend, created["id"]) == before + 1

    # One timeout alone; the others keep their values.
    updated = as_json(await aisonar("channel", "update", name, "--timeout-total", "45", "--json"))
    assert updated["timeouts"] == {"connect_s": 3.0, "first_byte_s": 20.0, "total_s": 45.0}
    assert (updated["priority"], updated["weight"]) == (2, 7)

    # `default` returns one timeout to the server's setting.
    updated = as_json(
        await aisonar("channel", "update", name, "--timeout-connect", "default", "--json")
    )
    assert updated["timeouts"] == {"connect_s": None, "first_byte_s": 20.0, "total_s": 45.0}

    await aisonar(
        "channel",
        "update",
        name,
        "--priority",
        "-3",
        "--base-url",
        "https://other.example.com/v1/",
        "--models",
        f"{name}-b,{name}-c=up-c",
        "--api-key",
        "sk-rotated-secret-456",
    )
    shown = await listed(aisonar, name)
    assert shown["priority"] == -3 and shown["base_url"] == "https://other.example.com/v1"
    assert shown["models"] == {f"{name}-b": f"{name}-b", f"{name}-c": "up-c"}
    assert shown["timeouts"] == {"connect_s": None, "first_byte_s": 20.0, "total_s": 45.0}
    assert await channel_changes(backend, created["id"]) == before + 4


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (("--weight", "-1"), "weight is 0 or more"),
        (("--priority", "99999999"), "priority"),
        (("--timeout-total", "0"), "positive number of seconds"),
        (("--timeout-connect", "-2"), "positive number of seconds"),
        (("--timeout-first-byte", "soon"), "neither a number of seconds nor `default`"),
        (("--models", "a*b*"), "one `*`"),
        (("--models", "plain=up-*"), "only a pattern can map to a pattern"),
        (("--base-url", "ftp://x"), "http(s) URL"),
    ],
)
async def test_bad_update_changes_nothing(
    backend: Backend, aisonar: Invoke, options: tuple[str, ...], reason: str
) -> None:
    name = unique("bad")
    created = await create_channel(aisonar, name, "--weight", "2", "--timeout-total", "30")
    before = await channel_changes(backend, created["id"])
    result = await aisonar("channel", "update", name, *options, ok=False)
    assert reason in result.output and "Traceback" not in result.output
    shown = await listed(aisonar, name)
    assert shown == {**created}
    assert await channel_changes(backend, created["id"]) == before


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (("--weight", "-1"), "weight is 0 or more"),
        (("--timeout-connect", "0"), "positive number of seconds"),
        (("--models", "gpt-**"), "one `*`"),
    ],
)
async def test_bad_create_is_refused(
    aisonar: Invoke, options: tuple[str, ...], reason: str
) -> None:
    name = unique("badnew")
    args = ("--provider", "openai", "--api-key", "k", "--models", "m", *options)
    result = await aisonar("channel", "create", name, *args, ok=False)
    assert reason in result.output and "Traceback" not in result.output
    channels = as_json(await aisonar("channel", "list", "--json"))
    assert all(c["name"] != name for c in channels)


async def test_update_without_options_is_a_usage_error(aisonar: Invoke) -> None:
    name = unique("noop")
    await create_channel(aisonar, name)
    result = await aisonar("channel", "update", name, ok=False)
    assert "nothing to change" in result.output


async def test_unknown_channel(aisonar: Invoke) -> None:
    for verb in (("update", "--weight", "1"), ("disable",), ("enable",), ("test",)):
        result = await aisonar("channel", verb[0], "no-such-channel", *verb[1:], ok=False)
        assert "no channel named 'no-such-channel'" in result.output
        assert "Traceback" not in result.output


async def test_disable_and_enable(backend: Backend, aisonar: Invoke) -> None:
    name = unique("toggle")
    created = await create_channel(aisonar, name)
    before = await channel_changes(backend, created["id"])
    assert as_json(await aisonar("channel", "disable", name, "--json"))["enabled"] is False
    assert (await listed(aisonar, name))["enabled"] is False
    assert "False" in (await aisonar("channel", "disable", name)).stdout
    assert as_json(await aisonar("channel", "enable", name, "--json"))["enabled"] is True
    assert (await listed(aisonar, name))["enabled"] is True
    assert await channel_changes(backend, created["id"]) == before + 3


@pytest.mark.parametrize(
    ("provider", "upstream", "root"),
    [
        ("openai", "gpt-4o-mini", False),
        ("anthropic", "claude-haiku-4-5", True),
        ("gemini", "gemini-2.5-flash", True),
    ],
)
async def test_channel_test_round_trip(
    aisonar: Invoke, fake_upstream: FakeUpstream, provider: str, upstream: str, root: bool
) -> None:
    name = unique(f"probe-{provider}")
    await create_channel(
        aisonar,
        name,
        provider=provider,
        base_url=fake_upstream.root_url if root else fake_upstream.url,
        api_key=UPSTREAM_KEY,
        models=f"{name}-*={upstream[:4]}*,{name}-m={upstream}",
    )
    # A disabled channel is tested all the same: operators test before enabling.
    await aisonar("channel", "disable", name)

    result = await aisonar("channel", "test", name, "--json")
    shown = as_json(result)
    assert shown["ok"] is True and shown["error"] is None and shown["status"] == 200
    assert (shown["channel"], shown["enabled"]) == (name, False)
    assert (shown["model"], shown["upstream_model"]) == (f"{name}-m", upstream)
    assert isinstance(shown["latency_ms"], int) and shown["latency_ms"] >= 0
    assert shown["output_tokens"] is not None and shown["output_tokens"] <= 1
    assert UPSTREAM_KEY not in result.output

    sent = fake_upstream.received[-1]
    assert "ping" in orjson.dumps(sent).decode()

    table = (await aisonar("channel", "test", name, "--model", f"{name}-{upstream[4:]}")).stdout
    assert "status          200" in table and "latency_ms" in table
    assert f"upstream_model  {upstream}" in table
    assert UPSTREAM_KEY not in table


async def test_channel_test_needs_a_model_name(aisonar: Invoke) -> None:
    name = unique("patterns")
    await create_channel(aisonar, name, models=f"{name}-*")
    result = await aisonar("channel", "test", name, ok=False)
    assert "only patterns" in result.output and "--model" in result.output
    result = await aisonar("channel", "test", name, "--model", "elsewhere", ok=False)
    assert "does not serve 'elsewhere'" in result.output


@pytest.mark.parametrize(
    ("provider", "upstream", "root"),
    [
        ("openai", "gpt-4o-mini", False),
        ("anthropic", "claude-haiku-4-5", True),
        ("gemini", "gemini-2.5-flash", True),
    ],
)
async def test_channel_test_with_a_wrong_key(
    aisonar: Invoke, fake_upstream: FakeUpstream, provider: str, upstream: str, root: bool
) -> None:
    name = unique(f"badkey-{provider}")
    await create_channel(
        aisonar,
        name,
        provider=provider,
        base_url=fake_upstream.root_url if root else fake_upstream.url,
        api_key=WRONG_UPSTREAM_KEY,
        models=f"{name}-m={upstream}",
    )
    result = await aisonar("channel", "test", name, ok=False)
    assert result.exit_code == 1
    assert "rejected" in result.output and "credentials" in result.output
    assert WRONG_UPSTREAM_KEY not in result.output
    shown = as_json(await aisonar("channel", "test", name, "--json", ok=False))
    assert shown["ok"] is False and shown["status"] in (400, 401, 403)
    assert WRONG_UPSTREAM_KEY not in json.dumps(shown)


async def test_channel_test_of_an_unreachable_upstream(aisonar: Invoke) -> None:
    name = unique("nowhere")
    await create_channel(aisonar, name, base_url=f"http://127.0.0.1:{free_port()}/v1")
    result = await aisonar("channel", "test", name, ok=False)
    assert result.exit_code == 1 and "could not be reached" in result.output
    shown = as_json(await aisonar("channel", "test", name, "--json", ok=False))
    assert shown["status"] is None and "could not be reached" in shown["error"]


async def test_channel_test_of_a_silent_upstream(aisonar: Invoke) -> None:
    """An upstream that accepts the connection but never answers: the channel's own
    total timeout ends the test."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    name = unique("silent")
    try:
        await create_channel(
            aisonar, name, "--timeout-total", "0.5", base_url=f"http://127.0.0.1:{port}/v1"
        )
        result = await aisonar("channel", "test", name, ok=False)
        assert "did not answer within 0.5 s" in result.output
    finally:
        server.close()


# --- organizations restricted to some models ----------------------------------------------


async def test_org_models_create_update_list(aisonar: Invoke) -> None:
    org = unique("models-org")
    created = as_json(
        await aisonar("org", "create", org, "--models", "gpt-4o*, claude-*", "--json")
    )
    assert created["models"] == ["claude-*", "gpt-4o*"]
    assert "claude-*,gpt-4o*" in (await aisonar("org", "list")).stdout

    updated = as_json(await aisonar("org", "update", org, "--models", "gemini-2.5-flash", "--json"))
    assert updated["models"] == ["gemini-2.5-flash"] and updated["name"] == org
    orgs = as_json(await aisonar("org", "list", "--json"))
    assert next(o for o in orgs if o["name"] == org)["models"] == ["gemini-2.5-flash"]

    assert as_json(await aisonar("org", "update", org, "--all-models", "--json"))["models"] is None
    orgs = as_json(await aisonar("org", "list", "--json"))
    assert next(o for o in orgs if o["name"] == org)["models"] is None

    plain = unique("plain-org")
    assert as_json(await aisonar("org", "create", plain, "--json"))["models"] is None


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("update", "{org}", "--models", "a**"), "one `*`"),
        (("update", "{org}", "--models", " , "), "at least one model"),
        (("update", "{org}"), "exactly one of --models and --all-models"),
        (("update", "{org}", "--models", "a", "--all-models"), "exactly one of"),
        (("update", "no-such-org", "--all-models"), "no organization named"),
        (("create", "{org}-new", "--models", "x*y*"), "one `*`"),
    ],
)
async def test_bad_org_models_change_nothing(
    aisonar: Invoke, args: tuple[str, ...], reason: str
) -> None:
    org = unique("strict-org")
    await aisonar("org", "create", org, "--models", "gpt-4o-mini")
    result = await aisonar("org", *(arg.format(org=org) for arg in args), ok=False)
    assert reason in result.output and "Traceback" not in result.output
    orgs = as_json(await aisonar("org", "list", "--json"))
    assert next(o for o in orgs if o["name"] == org)["models"] == ["gpt-4o-mini"]
    assert all(o["name"] != f"{org}-new" for o in orgs)


async def _status(session: aiohttp.ClientSession, gateway: RunningGateway, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    async with session.post(gateway.url + "/v1/chat/completions", json=body) as response:
        if response.status == 403:
            error = (await response.json())["error"]
            assert error["code"] == "model_not_allowed", error
        return response.status


async def _eventually(
    session: aiohttp.ClientSession, gateway: RunningGateway, model: str, status: int
) -> None:
    """Running servers apply an organization's new list within a second."""
    for _ in range(60):
        if await _status(session, gateway, model) == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{model} never answered {status}")


async def test_org_models_restrict_keys_through_the_gateway(
    aisonar: Invoke, gateway: RunningGateway
) -> None:
    org = unique("limited-org")
    email = f"{org}@example.com"
    await aisonar("org", "create", org, "--models", "gpt-4o*")
    await aisonar("user", "create", email, "--org", org)
    await aisonar("balance", "recharge", org, "10")
    # The key's own list allows more; the organization's list still applies.
    key = as_json(
        await aisonar("key", "create", email, "--models", "gpt-4o-mini,claude-haiku-4-5", "--json")
    )
    headers = {"Authorization": f"Bearer {key['secret']}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        assert await _status(session, gateway, "gpt-4o-mini") == 200
        assert await _status(session, gateway, "claude-haiku-4-5") == 403

        # The identity of the key is cached by now; the change reaches it all the same.
        await aisonar("org", "update", org, "--models", "claude-*")
        await _eventually(session, gateway, "gpt-4o-mini", 403)
        assert await _status(session, gateway, "claude-haiku-4-5") == 200

        await aisonar("org", "update", org, "--all-models")
        await _eventually(session, gateway, "gpt-4o-mini", 200)
        assert await _status(session, gateway, "claude-haiku-4-5") == 200
        # The key's own list still holds.
        assert await _status(session, gateway, "gpt-4o") == 403
