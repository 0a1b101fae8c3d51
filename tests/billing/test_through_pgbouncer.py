"""The gateway's billing tests again, on PostgreSQL through PgBouncer in transaction mode
(`tests/pgbouncer.py`: one server connection shared by every transaction) with
AISONAR_DATABASE_PGBOUNCER on, for the gateway and for the tests' own engine; without
the setting the same pooler refuses the driver's reused prepared statements. Analytics
and exports read AISONAR_DATABASE_READ_URL when it is set."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import openai
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError

from aisonar.config import Settings
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.people import Api, make_operator, make_org
from tests.billing.test_gateway_billing import (  # noqa: F401 (run here again)
    test_a_request_is_charged_its_exact_price,
    test_concurrent_requests_never_overspend,
    test_failed_requests_are_not_charged,
    test_short_balance_is_402_in_openai_format_and_nothing_is_forwarded,
)
from tests.conftest import prepared_backend, reset_postgres
from tests.mailbox import Mailbox
from tests.pgbouncer import running_pgbouncer
from tests.support import Backend, wait_for_usage
from tests.workers import database_of_its_own

pytestmark = pytest.mark.postgresql

POSTGRES_URL = os.environ.get("AISONAR_TEST_DATABASE_URL", "")


@pytest.fixture(scope="module")
def pooler_url() -> Iterator[str]:
    """The tests' PostgreSQL server through PgBouncer (.ci/run installs it)."""
    if shutil.which("pgbouncer") is None:
        pytest.skip("pgbouncer is not installed")
    yield from running_pgbouncer(POSTGRES_URL)


@pytest.fixture(scope="module")
async def backend(
    pooler_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeUpstream,
    mailbox: Mailbox,
) -> AsyncIterator[Backend]:
    own = await database_of_its_own(POSTGRES_URL, "pgbouncer")
    await reset_postgres(Settings(database_url=own).resolved_database_url)
    through_pooler = make_url(pooler_url).set(database=make_url(own).database)
    made = await prepared_backend(
        "pgbouncer",
        tmp_path_factory.mktemp("data-pgbouncer"),
        through_pooler.render_as_string(hide_password=False),
        fake_upstream,
        mailbox,
        database_pgbouncer=True,
        database_pool_size=2,
        database_max_overflow=4,
    )
    yield made
    await made.engine.dispose()


@pytest.fixture(scope="module")
async def gateway(backend: Backend) -> AsyncIterator[RunningGateway]:
    async with running_gateway(backend.settings) as running:
        yield running


async def test_without_the_setting_the_pooler_refuses_reused_prepared_statements(
    backend: Backend,
) -> None:
    plain = create_engine(backend.settings.resolved_database_url, pgbouncer=False)
    try:
        with pytest.raises(DBAPIError, match="prepared statement"):
            for _ in range(3):
                async with plain.connect() as conn:
                    await conn.execute(text("SELECT count(*) FROM organizations"))
                    await conn.commit()
    finally:
        await plain.dispose()


async def test_analytics_and_exports_read_the_replica(
    backend: Backend, gateway: RunningGateway
) -> None:
    # A "replica" with the schema and none of the rows: what is read from it shows.
    replica = await database_of_its_own(POSTGRES_URL, "replica")
    replica_url = Settings(database_url=replica).resolved_database_url
    await reset_postgres(replica_url)
    replica_engine = create_engine(replica_url)
    await upgrade_to_head(replica_engine)
    await replica_engine.dispose()
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "1"})
    client = openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key=org.member.key_secret, max_retries=0
    )
    async with client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
    await wait_for_usage(backend.engine, org.id, 1)
    on_replica = backend.settings.model_copy(update={"database_read_url": replica})
    async with running_gateway(on_replica) as reading:
        for running, expected in ((gateway, 1), (reading, 0)):
            usage = (await Api(running.url, org.member.token).get("/api/me/usage")).body
            assert len(usage.splitlines()) == expected
