"""The JavaScript clients of tests/node (coding agents, SDKs), installed from the pinned
lock file on first use with the machine's npm."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_PROJECT = Path(__file__).resolve().parent / "node"
NODE_BIN = NODE_PROJECT / "node_modules" / ".bin"


def node_clients() -> Path:
    """The folder of the clients' executables, installing them if needed. Without npm the
    tests are skipped, except in CI, which must run them."""
    if (NODE_BIN / "codex").exists() and (NODE_BIN / "claude").exists():
        return NODE_BIN
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("npm is required in CI to install the clients of tests/node")
        pytest.skip("npm is not installed")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_PROJECT, check=True, timeout=600
    )
    return NODE_BIN
