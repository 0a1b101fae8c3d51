"""An installation of its own for a test: a fresh SQLite database and a gateway serving
it, mailing the shared test mailbox. A material policy change notifies every person of
the installation, which in the shared database would be every person every other test
made; here the test knows exactly who is there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aisonar.accounts import services as accounts
from aisonar.config import Settings
from aisonar.store.engine import create_engine
from aisonar.store.migrate import upgrade_to_head
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.api.people import Person, make_person
from tests.conftest import TEST_SECRET_KEY
from tests.mailbox import Mailbox
from tests.support import Backend


@dataclass(frozen=True)
class Installation:
    backend: Backend
    gateway: RunningGateway
    operator: Person

    @property
    def url(self) -> str:
        return self.gateway.url


@asynccontextmanager
async def own_installation(
    tmp_path: Path, mailbox: Mailbox, **settings_changes: Any
) -> AsyncIterator[Installation]:
    """A gateway on a database of its own, with one operator (of the `operators`
    organization) in it; `settings_changes` are further settings."""
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET_KEY,
        smtp_url=mailbox.url,
        notify_poll_interval_s=0.05,
        notify_retry_first_s=0.05,
        cache_poll_interval_s=0.05,
        usage_flush_interval_s=0.05,
        alert_interval_s=3600.0,
        **settings_changes,
    )
    settings.data_dir.mkdir()
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            await accounts.create_org(conn, "operators")
        operator = await make_person(engine, "operators", Role.OPERATOR)
        async with running_gateway(settings) as gateway:
            yield Installation(Backend("sqlite", settings, engine), gateway, operator)
    finally:
        await engine.dispose()
