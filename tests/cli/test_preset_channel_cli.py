"""`aisonar channel create --provider openai --preset NAME`: an OpenAI-compatible host's
base URL from its name, no key for a host that checks none, and every command of the
host page (docs/providers/openai-compatible.md) run as written."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aisonar.channels.presets import PRESETS
from aisonar.cli import main
from tests.support import Backend, cli_environment

PAGE = Path(__file__).resolve().parents[2] / "docs" / "providers" / "openai-compatible.md"


async def aisonar(backend: Backend, *args: str, env: dict[str, str] | None = None) -> Result:
    environment = {**cli_environment(backend), **(env or {})}
    return await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=environment, catch_exceptions=False
    )


async def test_a_preset_gives_the_hosts_base_url_and_a_keyless_host_needs_no_key(
    backend: Backend,
) -> None:
    name = f"ollama-cli-{secrets.token_hex(3)}"
    created = await aisonar(
        backend,
        "channel", "create", name, "--provider", "openai", "--preset", "ollama",
        "--models", "llama3.2", "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    shown = json.loads(created.stdout)
    assert shown["base_url"] == "http://localhost:11434/v1"
    assert shown["options"] == {"preset": "ollama"}
    assert (await aisonar(backend, "channel", "disable", name)).exit_code == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--provider", "openai", "--preset", "deepseek"), "--api-key or --credentials-file"),
        (("--provider", "openai", "--option", "preset=nosuch", "--api-key", "k"), "no preset"),
        (("--provider", "anthropic", "--preset", "groq", "--api-key", "k"), "no option 'preset'"),
    ],
)
async def test_a_preset_is_refused_where_it_does_not_fit(
    backend: Backend, args: tuple[str, ...], words: str
) -> None:
    name = f"preset-cli-{secrets.token_hex(3)}"
    refused = await aisonar(backend, "channel", "create", name, *args, "--models", "m")
    assert refused.exit_code != 0
    assert words in refused.output


def page_commands() -> list[list[str]]:
    """The `aisonar channel create` commands of the page's shell blocks, one per command."""
    blocks = re.findall(r"```sh\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [shlex.split(line) for line in text.splitlines() if line.startswith("aisonar ")]


async def test_every_command_of_the_hosts_page_runs_as_written(backend: Backend) -> None:
    commands = page_commands()
    created = [args for args in commands if args[1:3] == ["channel", "create"]]
    assert {args[args.index("--preset") + 1] for args in created} == set(PRESETS)
    keys = {f"${name.upper()}_API_KEY": f"key-{name}" for name in PRESETS}
    suffix = secrets.token_hex(3)
    for args in commands:
        given = [keys.get(arg, arg) for arg in args[1:]]
        if args not in created:
            done = await aisonar(backend, *given)
            assert done.exit_code == 0, (args, done.output)
            continue
        # The page's channel names, made unique to this run.
        given[2] = f"{given[2]}-{suffix}"
        done = await aisonar(backend, *given, "--json")
        assert done.exit_code == 0, (args, done.output)
        preset = PRESETS[args[args.index("--preset") + 1]]
        assert json.loads(done.stdout)["base_url"] == preset.base_url
        assert (await aisonar(backend, "channel", "disable", given[2])).exit_code == 0
