"""docs/compatibility.md shows the cells the suite declares."""

from __future__ import annotations

from tests.compat.matrix import PAGE, declared_cells, render


def test_the_compatibility_page_is_up_to_date() -> None:
    assert PAGE.read_text() == render(declared_cells()), (
        "docs/compatibility.md is out of date: run `python -m tests.compat.matrix`"
    )
