#!/usr/bin/env python3
"""Set up and run AI Sonar from a fresh clone with nothing but Python 3.11+.

python3 dev.py demo    # the gateway on SQLite with a built-in fake upstream
python3 dev.py test    # lint, type-check, import layers (lint-imports) and the whole test suite,
                       # with the coverage of billing/, limits/ and gateway/ held to floors
python3 dev.py test tests/billing -n 0  # the same checks, then only these tests (no coverage)
python3 dev.py run ... # any `aisonar` command inside the project's environment
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def _ensure_environment(lock: Path) -> None:
    """Create .venv and install the pinned dependencies when the lock file changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 is
        sys.exit("AI Sonar needs Python 3.11 or newer")
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{lock.name}"
    digest = hashlib.sha256(lock.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(lock)], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    stamp.write_text(digest)


def _run(*command: str) -> None:
    code = subprocess.call(command, cwd=ROOT)
    if code:
        sys.exit(code)


# Options of pytest that run only some tests, whose coverage says nothing of a package's.
_SELECTING = ("-k", "-m", "--deselect", "--lf", "--last-failed", "--no-cov")


def _whole_suite(arguments: list[str]) -> bool:
    """Whether these pytest arguments run every test: no path or test id, no selection."""
    for argument in arguments:
        if argument.startswith(_SELECTING):
            return False
        if not argument.startswith("-") and (ROOT / argument.split("::")[0]).exists():
            return False
    return True


def _check_coverage_floors() -> None:
    """Fail when a package's coverage, measured by the run just done, is under its floor
    (`[tool.aisonar.coverage-floors]` in pyproject.toml)."""
    import tomllib

    with (ROOT / "pyproject.toml").open("rb") as config:
        floors = tomllib.load(config)["tool"]["aisonar"]["coverage-floors"]
    missed = []
    for package, floor in floors.items():
        report = [str(BIN / "coverage"), "report", f"--include={package}/*", "--format=total"]
        measured = subprocess.run(report, cwd=ROOT, capture_output=True, text=True, check=True)
        covered = float(measured.stdout)
        print(f"coverage of {package}: {covered:.1f}% (floor {floor}%)")
        if covered < floor:
            missed.append(package)
    if missed:
        sys.exit(f"coverage under its floor: {', '.join(missed)}")


def main(argv: list[str]) -> None:
    action = argv[0] if argv else "help"
    if action == "demo":
        _ensure_environment(ROOT / "requirements.lock")
        os.execv(str(BIN / "aisonar"), [str(BIN / "aisonar"), "demo", *argv[1:]])
    elif action == "run":
        _ensure_environment(ROOT / "requirements.lock")
        os.execv(str(BIN / "aisonar"), [str(BIN / "aisonar"), *argv[1:]])
    elif action == "test":
        _ensure_environment(ROOT / "requirements-dev.lock")
        sources = [p for p in ("aisonar", "tests", "bench", "dev.py") if (ROOT / p).exists()]
        _run(str(BIN / "ruff"), "check", "--no-cache", *sources)
        _run(str(BIN / "ruff"), "format", "--no-cache", "--check", *sources)
        _run(str(BIN / "mypy"))
        _run(str(BIN / "lint-imports"))
        if _whole_suite(argv[1:]):
            _run(str(PYTHON), "-m", "pytest", "--cov", "--cov-report=term:skip-covered", *argv[1:])
            _check_coverage_floors()
        else:
            _run(str(PYTHON), "-m", "pytest", *argv[1:])
    else:
        print(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
