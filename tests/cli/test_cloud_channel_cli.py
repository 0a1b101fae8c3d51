"""`aisonar channel create|update` for a cloud provider: `--option NAME=VALUE` and
`--credentials-file`, checked per provider; the credentials never printed."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aisonar.cli import main
from tests.support import Backend, cli_environment

ENTRA = {"tenant_id": "t-1", "client_id": "c-1", "client_secret": "cli-entra-secret"}


async def aisonar(backend: Backend, *args: str) -> Result:
    return await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=cli_environment(backend), catch_exceptions=False
    )


@pytest.fixture
def entra_file(tmp_path: Path) -> Path:
    path = tmp_path / "entra.json"
    path.write_text(json.dumps(ENTRA, indent=2))
    return path


async def test_an_azure_channel_from_the_command_line(backend: Backend, entra_file: Path) -> None:
    name = f"azure-cli-{secrets.token_hex(3)}"
    created = await aisonar(
        backend,
        "channel", "create", name, "--provider", "azure",
        "--base-url", "https://example-resource.openai.azure.com",
        "--option", "api_version=2024-10-21",
        "--credentials-file", str(entra_file),
        "--models", f"{name}=my-deployment",
        "--json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    shown = json.loads(created.stdout)
    assert shown["options"] == {"api_version": "2024-10-21"}
    assert "cli-entra-secret" not in created.output
    updated = await aisonar(
        backend, "channel", "update", name, "--option", "api_version=2025-04-01-preview"
    )
    assert updated.exit_code == 0, updated.output
    assert "api_version=2025-04-01-preview" in updated.output
    assert (await aisonar(backend, "channel", "disable", name)).exit_code == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--api-key", "k"), "needs the option(s) api_version"),
        (("--api-key", "k", "--option", "api_version"), "NAME=VALUE"),
        (("--api-key", "k", "--option", "api_version=v", "--option", "region=x"), "no option"),
        (("--option", "api_version=v"), "--api-key or --credentials-file"),
        (("--option", "api_version=v", "--api-key", '{"tenant_id": "t"}'), "client_id"),
    ],
)
async def test_settings_azure_does_not_take_are_refused(
    backend: Backend, args: tuple[str, ...], words: str
) -> None:
    name = f"azure-cli-{secrets.token_hex(3)}"
    refused = await aisonar(
        backend,
        "channel", "create", name, "--provider", "azure",
        "--base-url", "https://example-resource.openai.azure.com",
        "--models", f"{name}=my-deployment",
        *args,
    )  # fmt: skip
    assert refused.exit_code != 0
    assert words in refused.output


async def test_a_key_and_a_credentials_file_are_one_too_many(
    backend: Backend, entra_file: Path
) -> None:
    refused = await aisonar(
        backend,
        "channel", "create", "both", "--provider", "azure",
        "--api-key", "k", "--credentials-file", str(entra_file),
        "--models", "m", "--option", "api_version=v",
    )  # fmt: skip
    assert refused.exit_code != 0
    assert "not both" in refused.output
