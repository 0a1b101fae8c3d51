"""The attack of issue 20 against one gateway: negative output limits beside normal
expensive requests cannot spend past the balance."""

from __future__ import annotations

from aisonar.testing.gateway_server import RunningGateway
from tests.billing.flood import flood
from tests.support import Backend, assert_ledger_invariant, make_tenant, settled_balance


async def test_a_flood_of_negative_limits_cannot_overdraw_the_balance(
    gateway: RunningGateway, backend: Backend
) -> None:
    tenant = await make_tenant(backend.engine, balance="0.10")  # ten expensive requests
    abusive, normal = await flood(
        [gateway.url], tenant.secret, abusive_loops=4, abusive_each=50, normal=30
    )
    assert abusive == {400: 200}
    assert normal == {200: 10, 402: 20}
    await settled_balance(backend.engine, tenant.org_id, 0)
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == 0
