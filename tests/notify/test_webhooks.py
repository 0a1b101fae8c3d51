"""Signed webhooks to a real local receiver: an org admin adds an endpoint, the notices of
the organization are POSTed to it and verify with the Standard Webhooks library, failures
are retried with backoff, and the delivery log shows every step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update
from standardwebhooks import Webhook, WebhookVerificationError

from aisonar.notify.webhook_client import WebhookClient
from aisonar.store.tables import webhook_endpoints
from aisonar.testing.gateway_server import RunningGateway, free_port
from tests.api.people import Api, Org, make_operator, make_org
from tests.notify.deliveries import settled
from tests.notify.receiver import webhook_receiver
from tests.support import Backend


@dataclass(frozen=True)
class Cast:
    org: Org
    admin: Api
    member: Api
    operator: Api

    async def add_endpoint(self, url: str, kinds: list[str] | None = None) -> dict[str, Any]:
        body = {"url": url} if kinds is None else {"url": url, "kinds": kinds}
        created = await self.admin.post(f"/api/orgs/{self.org.id}/webhooks", body)
        assert created.status == 201, created.body
        return dict(created.body)


@pytest.fixture
async def cast(gateway: RunningGateway, backend: Backend) -> Cast:
    org, operator = await make_org(backend.engine), await make_operator(backend.engine)
    return Cast(
        org,
        Api(gateway.url, org.admin.token),
        Api(gateway.url, org.member.token),
        Api(gateway.url, operator.token),
    )


async def test_notices_are_posted_signed_and_verify_with_the_standard_library(
    cast: Cast,
) -> None:
    async with webhook_receiver() as receiver:
        created = await cast.add_endpoint(receiver.url)
        assert created["secret"].startswith("whsec_")
        await cast.member.post("/api/me/keys", {"name": "hooked"})
        (delivery,) = await receiver.wait_for(1)
    payload = Webhook(created["secret"]).verify(delivery.body, delivery.headers)
    assert payload["type"] == "key_created"
    assert payload["data"]["organization_id"] == cast.org.id
    assert payload["data"]["user_id"] == cast.org.member.user_id
    assert payload["data"]["details"]["name"] == "hooked"
    assert delivery.headers["webhook-id"] == f"ntc_{payload['data']['notice_id']}"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(delivery.body, delivery.headers)
    # The secret is shown once.
    listed = await cast.admin.get(f"/api/orgs/{cast.org.id}/webhooks")
    assert [e["url"] for e in listed.body] == [receiver.url] and "secret" not in listed.body[0]


async def test_a_failing_endpoint_is_retried_and_the_log_shows_each_step(
    cast: Cast, backend: Backend
) -> None:
    async with webhook_receiver() as receiver:
        receiver.statuses = [500, 503]
        endpoint = await cast.add_endpoint(receiver.url)
        await cast.operator.post(f"/api/orgs/{cast.org.id}/recharges", {"amount": "3"})
        attempts = await receiver.wait_for(3)
        await settled(backend.engine, cast.org.id, "recharge_received")
    # The same message each time, with the same id.
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1
    log = (await cast.admin.get(f"/api/webhooks/{endpoint['id']}/deliveries")).body
    assert [(d["kind"], d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("recharge_received", "delivered", 3, 200)
    ]


async def test_an_endpoint_that_never_answers_well_is_given_up_after_the_last_attempt(
    cast: Cast, backend: Backend
) -> None:
    async with webhook_receiver() as receiver:
        receiver.statuses = [500] * 10
        endpoint = await cast.add_endpoint(receiver.url)
        await cast.member.post("/api/me/keys", {"name": "x"})
        await settled(backend.engine, cast.org.id, "key_created")
        assert len(receiver.received) == backend.settings.notify_max_attempts
    (failed,) = (await cast.admin.get(f"/api/webhooks/{endpoint['id']}/deliveries")).body
    assert failed["status"] == "failed" and failed["last_status_code"] == 500
    assert failed["last_error"] == "HTTP 500: not now"


async def test_an_endpoint_gets_only_the_kinds_it_asked_for_and_nothing_once_deleted(
    cast: Cast, backend: Backend
) -> None:
    org_id = cast.org.id
    async with webhook_receiver() as receiver:
        endpoint = await cast.add_endpoint(receiver.url, ["recharge_received"])
        await cast.member.post("/api/me/keys", {"name": "unheard"})
        await cast.operator.post(f"/api/orgs/{org_id}/recharges", {"amount": "1"})
        await settled(backend.engine, org_id, "recharge_received")
        await settled(backend.engine, org_id, "key_created")
        assert [json.loads(r.body)["type"] for r in receiver.received] == ["recharge_received"]

        assert (await cast.admin.delete(f"/api/webhooks/{endpoint['id']}")).status == 200
        await cast.operator.post(f"/api/orgs/{org_id}/recharges", {"amount": "2"})
        await settled(backend.engine, org_id, "recharge_received")
        assert len(receiver.received) == 1
    assert (await cast.admin.get(f"/api/orgs/{org_id}/webhooks")).body == []


async def test_a_rotated_secret_signs_from_the_next_delivery_on(cast: Cast) -> None:
    async with webhook_receiver() as receiver:
        endpoint = await cast.add_endpoint(receiver.url)
        rotated = await cast.admin.post(f"/api/webhooks/{endpoint['id']}/rotate-secret", None)
        test = await cast.admin.post(f"/api/webhooks/{endpoint['id']}/test", None)
        assert test.body == {"delivered": True, "status_code": 200, "error": None}
        (ping,) = await receiver.wait_for(1)
    assert Webhook(rotated.body["secret"]).verify(ping.body, ping.headers)["type"] == "ping"
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(ping.body, ping.headers)


async def test_members_and_other_organizations_cannot_touch_an_endpoint(
    cast: Cast, gateway: RunningGateway, backend: Backend
) -> None:
    org, other = cast.org, await make_org(backend.engine)
    body = {"url": "https://example.com/hooks"}
    endpoint = await cast.add_endpoint(body["url"])
    stranger = Api(gateway.url, other.admin.token)
    assert (await cast.member.post(f"/api/orgs/{org.id}/webhooks", body)).status == 403
    assert (await cast.member.get(f"/api/webhooks/{endpoint['id']}/deliveries")).status == 403
    assert (await stranger.get(f"/api/webhooks/{endpoint['id']}")).status == 404
    assert (await stranger.delete(f"/api/webhooks/{endpoint['id']}")).status == 404
    refused = await cast.admin.post(
        f"/api/orgs/{org.id}/webhooks", {"url": "ftp://example.com", "kinds": ["nonsense"]}
    )
    assert refused.status == 400 and refused.body["error"]["param"] == "url"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "169.254.169.254"])
async def test_private_addresses_are_refused_unless_allowed(host: str) -> None:
    client = WebhookClient(timeout_s=2, allow_private_networks=False)
    try:
        outcome = await client.post(f"http://{host}:{free_port()}/x", "whsec_AAAA", "m", b"{}")
    finally:
        await client.close()
    assert not outcome.delivered and outcome.permanent
    assert outcome.error is not None and "non-public address" in outcome.error


async def test_a_delivery_that_cannot_be_attempted_fails_alone(
    cast: Cast, backend: Backend
) -> None:
    # A secret sealed under another key no longer opens: that delivery fails, and the
    # notifier goes on delivering the same notice elsewhere, and every later one.
    async with webhook_receiver() as broken, webhook_receiver() as working:
        spoilt = await cast.add_endpoint(broken.url)
        await cast.add_endpoint(working.url)
        async with backend.engine.begin() as conn:
            await conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == spoilt["id"])
                .values(secret="not-a-sealed-secret")
            )
        await cast.member.post("/api/me/keys", {"name": "first"})
        await cast.member.post("/api/me/keys", {"name": "second"})
        delivered = await working.wait_for(2)
    assert len(delivered) == 2
    failed = [
        row
        for row in await settled(backend.engine, cast.org.id, "key_created")
        if row.endpoint_id == spoilt["id"]
    ]
    assert [row.status for row in failed] == ["failed", "failed"]
    assert all(row.attempts == 1 and row.last_error for row in failed)
