"""After every billing test, on every backend it used: each organization's balance
equals the sum of its ledger entries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from aisonar.store.tables import ledger_entries, organizations
from tests.support import Backend


@pytest.fixture(autouse=True)
async def ledger_invariant(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "backend" not in request.fixturenames:
        return
    backend: Backend = request.getfixturevalue("backend")
    sums = (
        select(ledger_entries.c.org_id, func.sum(ledger_entries.c.amount).label("total"))
        .group_by(ledger_entries.c.org_id)
        .subquery()
    )
    broken = (
        select(organizations.c.name)
        .outerjoin(sums, sums.c.org_id == organizations.c.id)
        .where(organizations.c.balance != func.coalesce(sums.c.total, 0))
    )
    async with backend.engine.connect() as conn:
        assert (await conn.execute(broken)).scalars().all() == []
