"""First use of an expensive model: a key's first call in a month to a model priced at
or above the floor (the suite's `metered-model`, 1,000 credits per million output
tokens) is found, once; a cheap model is not, nor an expensive one the key used last
week."""

from __future__ import annotations

from datetime import timedelta

from aisonar.abuse.models import FindingKind
from aisonar.clock import utcnow
from aisonar.testing.gateway_server import RunningGateway
from tests.abuse.traffic import client, detection_round, findings_about
from tests.support import Backend, Tenant
from tests.usage.test_rollups import event, write


async def call(gateway: RunningGateway, tenant: Tenant, model: str) -> None:
    async with client(gateway, tenant.secret) as sdk:
        await sdk.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hello"}], max_tokens=50
        )


async def test_a_keys_first_call_to_an_expensive_model_is_found_once(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    await call(gateway, tenant, "gpt-4o-mini")
    await detection_round(backend, gateway)
    assert await findings_about(backend, FindingKind.EXPENSIVE_MODEL, tenant.key_id) == []
    await call(gateway, tenant, "metered-model")
    await detection_round(backend, gateway)
    await call(gateway, tenant, "metered-model")
    await detection_round(backend, gateway)
    [finding] = await findings_about(backend, FindingKind.EXPENSIVE_MODEL, tenant.key_id)
    assert finding.evidence["models"] == ["metered-model"]
    assert finding.evidence["requests"] in (1, 2)
    assert (finding.org_id, finding.user_id) == (tenant.org_id, tenant.user_id)


async def test_an_expensive_model_the_key_used_last_week_is_not_new(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    week_ago = utcnow() - timedelta(days=7)
    await write(
        backend,
        [
            event(
                tenant.org_id,
                week_ago,
                user_id=tenant.user_id,
                key_id=tenant.key_id,
                requested_model="metered-model",
            )
        ],
    )
    await call(gateway, tenant, "metered-model")
    await detection_round(backend, gateway)
    assert await findings_about(backend, FindingKind.EXPENSIVE_MODEL, tenant.key_id) == []
