"""The agents run on SQLite only: what they exercise is the gateway's translation, the
same on every database, and each run costs seconds."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = [
        item for item in items if "/agents/" in item.nodeid and "[postgresql" in item.nodeid
    ]
    if on_postgres:
        config.hook.pytest_deselected(items=on_postgres)
        items[:] = [item for item in items if item not in on_postgres]
