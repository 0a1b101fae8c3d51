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

from aisonar.billing.prices import set_price
from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.testing.fake_aws import FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.compat.cells import CLOUD_PROVIDERS, Cell
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY
from tests.gateway.azure.conftest import gateway_knows
from tests.support import Backend

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


@pytest.fixture(scope="session")
async def cloud_channels(
    backend: Backend, fake_upstream: FakeUpstream, gateway: RunningGateway
) -> None:
    """An Azure OpenAI, a Bedrock and a Vertex AI channel to the fake, each serving the
    cloud columns' model of its provider (tests/compat/cells.py), once the running gateway
    has loaded them (and Azure's price)."""
    aws_keys = {
        "access_key_id": FAKE_AWS_ACCESS_KEY_ID,
        "secret_access_key": FAKE_AWS_SECRET_ACCESS_KEY,
    }
    service_account = fake_upstream.google_service_account("compat")
    made = (
        ("azure", "compat-azure=compat-gpt-4o-mini", {"api_version": "2024-10-21"}, UPSTREAM_KEY),
        (
            "bedrock",
            "compat-bedrock=us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            {"region": "us-east-1"},
            orjson.dumps(aws_keys).decode(),
        ),
        (
            "vertex",
            "compat-vertex=gemini-2.5-flash",
            {"project": "compat", "location": "us-central1"},
            orjson.dumps(service_account).decode(),
        ),
    )
    created = []
    async with backend.engine.begin() as conn:
        for provider, models, options, secret in made:
            channel = await channels.create_channel(
                conn,
                SecretBox(TEST_SECRET_KEY),
                name=f"compat-{provider}",
                provider=provider,
                base_url=fake_upstream.root_url,
                api_key=secret,
                models=models,
                options=options,
            )
            created.append(channel.id)
        # Azure is priced by the client's name for the model, which here is the suite's own.
        await set_price(conn, "compat-azure", input="0.15", output="0.60")
    for channel_id in created:
        await gateway_knows(gateway, channel_id, "compat-azure")


@pytest.fixture(autouse=True)
def cloud_column(request: pytest.FixtureRequest) -> None:
    """A cloud column's cell has its provider's channel."""
    cell = _cell(request.node)
    if cell is not None and cell.provider in CLOUD_PROVIDERS:
        request.getfixturevalue("cloud_channels")


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
