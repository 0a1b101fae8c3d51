"""The compatibility suite runs on SQLite only, like the coding agents: it exercises the
gateway's wire formats, the same on every database. With AISONAR_COMPAT_RESULTS set to a
path, each cell's outcome is written there as JSON for `python -m tests.compat.matrix`."""

from __future__ import annotations

import gc
import os
from collections.abc import Generator, Iterator
from pathlib import Path

import orjson
import pytest

from tests.compat.cells import Cell

RESULTS_ENV = "AISONAR_COMPAT_RESULTS"
_results = pytest.StashKey[dict[str, str]]()

# The clients keep pooled connections to the gateway that they never close (LiteLLM's and
# LangChain's cached HTTP clients, llm's client per call): their sockets' ResourceWarnings
# say nothing about the gateway here.
_UNCLOSED_POOLS = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module", autouse=True)
def collect_dropped_clients() -> Iterator[None]:
    """Frees the module's dropped clients while its warning filter still applies."""
    yield
    gc.collect()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/compat/" in item.nodeid:
            item.add_marker(_UNCLOSED_POOLS)
    on_postgres = [
        item for item in items if "/compat/" in item.nodeid and "[postgresql" in item.nodeid
    ]
    if on_postgres:
        config.hook.pytest_deselected(items=on_postgres)
        items[:] = [item for item in items if item not in on_postgres]


def _cell(item: pytest.Item) -> Cell | None:
    feature = getattr(getattr(item, "function", None), "compat_feature", None)
    callspec = getattr(item, "callspec", None)
    if feature is None or callspec is None:
        return None
    return Cell(callspec.params["client"], feature, callspec.params["provider"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    cell = _cell(item)
    if cell is None or (report.when != "call" and report.passed):
        return report
    if hasattr(report, "wasxfail"):
        outcome = "xfail" if report.skipped else "xpass"
    else:
        outcome = {"passed": "pass", "failed": "fail", "skipped": "skip"}[report.outcome]
    results = item.config.stash.setdefault(_results, {})
    key = f"{cell.client}|{cell.feature}|{cell.provider}"
    if results.get(key) in (None, "pass"):
        results[key] = outcome
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get(RESULTS_ENV)
    results = session.config.stash.get(_results, {})
    if path and results:
        Path(path).write_bytes(orjson.dumps(results, option=orjson.OPT_SORT_KEYS))
