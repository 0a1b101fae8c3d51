"""The JavaScript clients of tests/node (coding agents, SDKs), installed from the pinned
lock file on first use with the machine's npm."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from filelock import FileLock

NODE_PROJECT = Path(__file__).resolve().parent / "node"
NODE_MODULES = NODE_PROJECT / "node_modules"
NODE_BIN = NODE_MODULES / ".bin"
# One file of each client: all present means the lock file was installed.
INSTALLED = (
    NODE_BIN / "codex",
    NODE_BIN / "claude",
    NODE_MODULES / "ai" / "package.json",
    NODE_MODULES / "@ai-sdk" / "openai" / "package.json",
    NODE_MODULES / "@ai-sdk" / "anthropic" / "package.json",
    NODE_MODULES / "@ai-sdk" / "google" / "package.json",
)


def node_clients() -> Path:
    """The folder of the clients' executables, installing them if needed. Without npm the
    tests are skipped, except in CI, which must run them."""
    if all(path.exists() for path in INSTALLED):
        return NODE_BIN
    # Test workers running side by side install once: the others wait, then find it done.
    with FileLock(NODE_PROJECT / ".install.lock"):
        if not all(path.exists() for path in INSTALLED):
            _install()
    return NODE_BIN


def _install() -> None:
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("npm is required in CI to install the clients of tests/node")
        pytest.skip("npm is not installed")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_PROJECT, check=True, timeout=600
    )


def node_project() -> Path:
    """tests/node with its clients installed: its scripts import the JavaScript SDKs."""
    node_clients()
    return NODE_PROJECT
