"""Client libraries whose dependencies conflict with requirements-dev.lock, each run in a
virtual environment of its own. `tests/compat/isolated/NAME.txt` pins one (every package,
exact versions) and `NAME_client.py` calls the gateway with it, printing each feature's
outcome as JSON: `{feature: {"value": ...} or {"error": "..."}}`.

The environment is built on first use in `.venv/isolated/NAME`, beside the project's own
environment and out of the source tree that the linters and tests read, and built again
when the pins change: a stamp in it holds the hash of the requirements file it was
installed from."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import orjson
from filelock import FileLock

ISOLATED = Path(__file__).resolve().parent / "isolated"
VENVS = ISOLATED.parents[2] / ".venv" / "isolated"
INSTALL_TIMEOUT_S = 600
RUN_TIMEOUT_S = 120


def client_python(name: str) -> Path:
    """The interpreter of NAME's environment, created and installed if its pins changed."""
    requirements = ISOLATED / f"{name}.txt"
    home = VENVS / name
    python = home / "bin" / "python"
    stamp = home / ".installed"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    VENVS.mkdir(parents=True, exist_ok=True)
    # Test workers running side by side install once: the others wait, then find it done.
    with FileLock(VENVS / f"{name}.lock"):
        if stamp.exists() and stamp.read_text() == digest:
            return python
        shutil.rmtree(home, ignore_errors=True)
        venv.EnvBuilder(with_pip=False).create(home)
        # The suite's own pip installs into the new environment, which needs none of its own.
        pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        installed = subprocess.run(
            [*pip, "--disable-pip-version-check", "-r", str(requirements)],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
        if installed.returncode:
            raise RuntimeError(f"installing {requirements.name} failed:\n{installed.stderr}")
        stamp.write_text(digest)
    return python


async def run_client(name: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    """NAME_client.py's outcomes, run in NAME's environment with `args` and `env` added to
    this process's environment."""
    python = await asyncio.to_thread(client_python, name)
    process = await asyncio.create_subprocess_exec(
        str(python),
        str(ISOLATED / f"{name}_client.py"),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    assert process.returncode == 0, err.decode()
    results: dict[str, Any] = orjson.loads(out)
    return results


def value(results: dict[str, Any], feature: str) -> Any:
    """A feature's value; its error fails the test."""
    outcome = results[feature]
    assert "error" not in outcome, outcome["error"]
    return outcome["value"]
