"""The documentation is checked: every setting and every command appears in it."""

from __future__ import annotations

from pathlib import Path

import click

from aisonar.cli import main
from aisonar.config import Settings

CONFIGURATION = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def command_paths(group: click.Group, prefix: str = "aisonar") -> list[str]:
    paths: list[str] = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, path))
        else:
            paths.append(path)
    return paths


def test_every_setting_is_documented() -> None:
    text = CONFIGURATION.read_text()
    missing = [f for f in Settings.model_fields if f"`AISONAR_{f.upper()}`" not in text]
    assert not missing


def test_every_command_is_documented() -> None:
    text = CONFIGURATION.read_text()
    missing = [path for path in command_paths(main) if f"`{path}" not in text]
    assert not missing
