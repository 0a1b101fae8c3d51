"""Modules stay small enough to read whole: none of the package's is over 600 lines."""

from __future__ import annotations

from pathlib import Path

import aisonar

LIMIT = 600


def test_no_module_is_over_the_limit() -> None:
    package = Path(aisonar.__file__).parent
    sizes = {
        str(path.relative_to(package)): len(path.read_text().splitlines())
        for path in package.rglob("*.py")
    }
    assert len(sizes) > 100
    assert {name: lines for name, lines in sizes.items() if lines > LIMIT} == {}
