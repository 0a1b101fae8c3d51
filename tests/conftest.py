"""Shared fixtures: a real database (SQLite, and PostgreSQL when configured), the fake
upstream, and a gateway serving real HTTP on loopback."""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from aisonar.billing.prices import set_price
from aisonar.channels import services as channels
from aisonar.config import Settings
from aisonar.crypto import SecretBox
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.testing.fake_upstream import FakeUpstream, FakeUpstreamConfig
from aisonar.testing.gateway_server import RunningGateway, free_port, running_gateway
from tests.mailbox import Mailbox
from tests.support import Backend, Tenant, make_tenant
from tests.workers import isolate_worker

isolate_worker()

# The Redis Cluster and Sentinel fixtures the store conformance suites run on.
pytest_plugins = ["tests.redis_topologies"]

POSTGRES_URL = os.environ.get("AISONAR_TEST_DATABASE_URL")
PAYMENT_SECRET = "whsec_" + secrets.token_hex(16)
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
UPSTREAM_KEY = "sk-upstream-" + secrets.token_hex(16)
WRONG_UPSTREAM_KEY = "sk-wrong-" + secrets.token_hex(16)
CHANNEL_MODELS = "gpt-4o-mini,gpt-4o,text-embedding-3-small,smart=gpt-4o,metered-model"
ANTHROPIC_MODELS = "claude-haiku-4-5,claude-sonnet-4-5,claude=claude-haiku-4-5"
GEMINI_MODELS = "gemini-2.5-flash,gemini=gemini-2.5-flash,gemini-embedding-001"
# Output only, one credit per thousand tokens: with max_tokens set, a request's hold and
# its cost are the same exact amount.
METERED_OUTPUT_PRICE = "1000"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_URL:
        return
    skip = pytest.mark.skip(reason="AISONAR_TEST_DATABASE_URL is not set")
    for item in items:
        if "postgresql" in item.keywords:
            item.add_marker(skip)


async def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(scope="session")
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream(FakeUpstreamConfig(api_key=UPSTREAM_KEY), port=0) as upstream:
        yield upstream


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    """The SMTP server every test gateway sends its email notices to."""
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="session", params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeUpstream,
    mailbox: Mailbox,
) -> AsyncIterator[Backend]:
    data_dir = tmp_path_factory.mktemp(f"data-{request.param}")
    if request.param == "postgresql":
        assert POSTGRES_URL
        await reset_postgres(Settings(database_url=POSTGRES_URL).resolved_database_url)
        database_url = POSTGRES_URL
    else:
        database_url = ""
    made = await prepared_backend(request.param, data_dir, database_url, fake_upstream, mailbox)
    yield made
    await made.engine.dispose()


async def prepared_backend(
    name: str,
    data_dir: Path,
    database_url: str,
    fake_upstream: FakeUpstream,
    mailbox: Mailbox,
    **overrides: Any,
) -> Backend:
    """A migrated database with the fake upstream's channels, and the settings of the
    gateways the tests run on it (`overrides` changing some)."""
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        usage_flush_interval_s=0.05,
        cache_poll_interval_s=0.05,
        upstream_total_timeout_s=3.0,
        max_body_bytes=256 * 1024,
        payment_webhook_secret=PAYMENT_SECRET,
        redeem_failures_per_hour=3,
        # Tests here inject faults into shared channels and expect to see them: one attempt,
        # and no breaker to take a channel away from later tests. tests/gateway/routing/
        # runs gateways of its own with failover and the breaker as configured by default.
        failover_max_attempts=1,
        channel_breaker_min_requests=1_000_000,
        smtp_url=mailbox.url,
        # The test webhook receivers listen on loopback.
        webhook_allow_private_networks=True,
        notify_poll_interval_s=0.05,
        notify_retry_first_s=0.05,
        notify_max_attempts=3,
        # Tests evaluate alert rules themselves, at the moments they choose.
        alert_interval_s=3600.0,
        # And abuse detection's rounds (tests/abuse/).
        abuse_interval_s=3600.0,
        **overrides,
    )
    engine = create_engine(settings.resolved_database_url, **settings.engine_options())
    await upgrade_to_head(engine)
    box = SecretBox(TEST_SECRET_KEY)
    async with engine.begin() as conn:
        root = fake_upstream.root_url
        for channel_name, provider, base_url, api_key, models in (
            ("fake", "openai", fake_upstream.url, UPSTREAM_KEY, CHANNEL_MODELS),
            ("fake-anthropic", "anthropic", root, UPSTREAM_KEY, ANTHROPIC_MODELS),
            ("fake-gemini", "gemini", root, UPSTREAM_KEY, GEMINI_MODELS),
            (
                "unreachable",
                "openai",
                f"http://127.0.0.1:{free_port()}/v1",
                UPSTREAM_KEY,
                "dead-model",
            ),
            (
                "wrong-key",
                "openai",
                fake_upstream.url,
                WRONG_UPSTREAM_KEY,
                "wrong-key-model=gpt-4o-mini",
            ),
            (
                "wrong-key-anthropic",
                "anthropic",
                root,
                WRONG_UPSTREAM_KEY,
                "wrong-key-claude=claude-haiku-4-5",
            ),
            (
                "wrong-key-gemini",
                "gemini",
                root,
                WRONG_UPSTREAM_KEY,
                "wrong-key-gemini=gemini-2.5-flash",
            ),
        ):
            await channels.create_channel(
                conn,
                box,
                name=channel_name,
                provider=provider,
                base_url=base_url,
                api_key=api_key,
                models=models,
            )
        # Unpriced models are refused before they are forwarded; the test-only ones are free.
        await set_price(conn, "dead-model", input="0", output="0")
        await set_price(conn, "metered-model", input="0", output=METERED_OUTPUT_PRICE)
    return Backend(name, settings, engine)


@pytest.fixture(scope="session")
async def gateway(backend: Backend) -> AsyncIterator[RunningGateway]:
    async with running_gateway(backend.settings) as running:
        yield running


@pytest.fixture(autouse=True)
def collect_abandoned_connections(request: pytest.FixtureRequest) -> Iterator[None]:
    """A connection a test abandoned in the middle of a transaction (a cancelled task, an
    unfinished generator) keeps SQLite's write lock until the collector finalizes it; the
    next test, waiting on that lock, allocates nothing that would run the collector, and
    fails after the busy timeout. Collect after each SQLite test instead."""
    yield
    if "backend" in request.fixturenames:
        backend: Backend = request.getfixturevalue("backend")
        if backend.name == "sqlite":
            gc.collect()
            # What survived is the session's (gateways, caches, imported modules): frozen
            # out of later collections, which then scan only the next test's objects and
            # take milliseconds instead of seconds on a worker's grown heap.
            gc.freeze()


@pytest.fixture(autouse=True)
def forget_channel_failures(request: pytest.FixtureRequest) -> Iterator[None]:
    """A Retry-After opens the breaker at once, whatever the threshold: forget it, so one
    test's injected 429 cannot take the shared channels away from the next."""
    yield
    if "gateway" in request.fixturenames:
        gateway: RunningGateway = request.getfixturevalue("gateway")
        gateway.app.runtime.services.failover.health.forget_except(())


@pytest.fixture
async def tenant(backend: Backend) -> Tenant:
    return await make_tenant(backend.engine)


@pytest.fixture
def repo_root() -> Iterator[Path]:
    yield Path(__file__).resolve().parent.parent
