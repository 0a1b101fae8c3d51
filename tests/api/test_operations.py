"""What the command line does, through the API: recharges and codes, ledger and usage
downloads, limits, channels, prices and markups, each for the roles allowed it and each
audited without secrets."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets

import openai
import pytest
from sqlalchemy import select

from aisonar.store.tables import audit_log
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, make_operator, make_org
from tests.conftest import UPSTREAM_KEY
from tests.support import Backend, assert_ledger_invariant, recorded_events
from tests.support import Tenant as SupportTenant


def sdk(gateway: RunningGateway, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=secret, max_retries=0)


async def test_an_operator_recharges_and_the_member_spends_it_at_once(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    body = {"amount": "2.50", "reference": "INV-7", "idempotency_key": "INV-7"}
    first = await operator.post(f"/api/orgs/{org.id}/recharges", body)
    again = await operator.post(f"/api/orgs/{org.id}/recharges", body)
    assert first.status == again.status == 201 and first.body["id"] == again.body["id"]
    assert first.body["balance_after"] == "2.50"
    refused = await Api(gateway.url, org.admin.token).post(
        f"/api/orgs/{org.id}/recharges", {"amount": "1"}
    )
    assert refused.status == 403
    async with sdk(gateway, org.member.key_secret) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
    balance = (await Api(gateway.url, org.member.token).get("/api/me/balance")).body
    assert balance["org_id"] == org.id and balance["balance"] < "2.50"
    ledger_csv = (
        await Api(gateway.url, org.admin.token).get(f"/api/orgs/{org.id}/ledger?format=csv")
    ).body
    rows = list(csv.DictReader(io.StringIO(ledger_csv)))
    assert rows[0]["kind"] == "recharge" and rows[0]["reference"] == "INV-7"
    mine = (await Api(gateway.url, org.member.token).get("/api/me/ledger")).body
    assert json.loads(mine.splitlines()[0])["kind"] == "recharge"


async def test_recharges_sent_at_once_with_one_key_credit_once(
    gateway: RunningGateway, backend: Backend
) -> None:
    """Each concurrent copy finds no entry for the key before the first commits; every
    one is answered with the one entry, none with a 500."""
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    body = {"amount": "1.25", "idempotency_key": "INV-" + secrets.token_hex(4)}
    answers = await asyncio.gather(
        *(operator.post(f"/api/orgs/{org.id}/recharges", body) for _ in range(8))
    )
    assert [answer.status for answer in answers] == [201] * 8
    assert len({answer.body["id"] for answer in answers}) == 1
    balance = (await Api(gateway.url, org.member.token).get("/api/me/balance")).body
    assert balance["balance"] == "1.25"
    assert await assert_ledger_invariant(backend.engine, org.id) == 1_250_000


async def test_codes_made_through_the_api_are_redeemed_once(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    batch = await operator.post("/api/codes", {"amount": "3", "count": 2})
    assert batch.status == 201 and len(batch.body["codes"]) == 2
    redeem = Api(gateway.url, org.member.key_secret)
    assert (await redeem.post("/api/me/redeem", {"code": batch.body["codes"][0]})).status == 200
    assert (await redeem.post("/api/me/redeem", {"code": batch.body["codes"][0]})).status == 400
    async with backend.engine.connect() as conn:
        changes = (
            await conn.execute(
                select(audit_log.c.changes).where(audit_log.c.action == "code.create")
            )
        ).all()
    assert not any(code in json.dumps(list(map(list, changes))) for code in batch.body["codes"])


async def test_code_batches_are_listed_with_their_standing_and_revoked_through_the_api(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    made = (await operator.post("/api/codes", {"amount": "2", "count": 3})).body
    batch = made["batch"]
    redeem = Api(gateway.url, org.member.key_secret)
    assert (await redeem.post("/api/me/redeem", {"code": made["codes"][0]})).status == 200
    listed = (await operator.get("/api/codes/batches?limit=500")).body
    [standing] = [found for found in listed if found["batch"] == batch]
    assert (standing["amount"], standing["count"]) == ("2.00", 3)
    assert (standing["redeemed"], standing["redeemable"]) == (1, 2)
    assert (await operator.get(f"/api/codes/batches/{batch}")).body == standing
    # Org admins and users may not see or revoke batches.
    admin = Api(gateway.url, org.admin.token)
    assert (await admin.get("/api/codes/batches")).status == 403
    assert (await admin.post(f"/api/codes/batches/{batch}/revoke", {})).status == 403

    revoked = await operator.post(f"/api/codes/batches/{batch}/revoke", {})
    assert revoked.status == 200 and revoked.body["revoked"] == 2
    assert (revoked.body["batch"]["redeemed"], revoked.body["batch"]["redeemable"]) == (1, 0)
    assert (await redeem.post("/api/me/redeem", {"code": made["codes"][1]})).status == 400
    again = await operator.post(f"/api/codes/batches/{batch}/revoke", {})
    assert again.body["revoked"] == 0
    assert (await operator.get("/api/codes/batches/batch_missing")).status == 404
    async with backend.engine.connect() as conn:
        audited = (
            await conn.execute(
                select(audit_log.c.changes)
                .where(audit_log.c.action == "code.revoke", audit_log.c.object_id == batch)
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [row.changes for row in audited] == [{"revoked": [None, 2]}, {"revoked": [None, 0]}]


async def test_usage_downloads_are_scoped_to_the_caller(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "1"})
    async with sdk(gateway, org.member.key_secret) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "secret plan"}], max_tokens=5
        )
    tenant = SupportTenant(
        org.name, org.member.email, org.member.key_id, "", org.id, org.member.user_id
    )
    [event] = await recorded_events(backend, tenant, 1)
    mine = (await Api(gateway.url, org.member.token).get("/api/me/usage")).body
    assert [json.loads(line)["id"] for line in mine.splitlines()] == [event.id]
    assert "secret plan" not in mine
    theirs = (await Api(gateway.url, org.admin.token).get("/api/me/usage")).body
    assert theirs == ""
    org_wide = (
        await Api(gateway.url, org.admin.token).get(f"/api/orgs/{org.id}/usage?format=csv")
    ).body
    assert event.id in org_wide
    assert (await Api(gateway.url, org.admin.token).get("/api/usage")).status == 403
    assert event.id in (await operator.get("/api/usage")).body


async def test_an_org_admin_limits_a_members_key_but_not_the_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    admin = Api(gateway.url, org.admin.token)
    limited = await admin.call("PATCH", f"/api/limits/key/{org.member.key_id}", {"rpm": 1})
    assert limited.status == 200 and limited.body["rpm"] == 1
    assert {"dimension": "rpm", "limit": 1, "level": "key", "subject_id": org.member.key_id} in (
        limited.body["effective"]
    )
    own_org = await admin.call("PATCH", f"/api/limits/org/{org.id}", {"rpm": 1000})
    assert own_org.status == 403
    member = Api(gateway.url, org.member.token)
    assert (
        await member.call("PATCH", f"/api/limits/key/{org.member.key_id}", {"rpm": 9})
    ).status == 403
    assert (await member.get(f"/api/limits/key/{org.member.key_id}")).body["rpm"] == 1
    bad = await admin.call("PATCH", f"/api/limits/key/{org.member.key_id}", {"rpm": "lots"})
    assert bad.status == 400 and bad.body["error"]["param"] == "rpm"
    cleared = await admin.call(
        "PATCH", f"/api/limits/user/{org.member.user_id}", {"daily_spend": "2.5"}
    )
    assert cleared.body["daily_spend"] == "2.50"
    cleared = await admin.call("PATCH", f"/api/limits/key/{org.member.key_id}", {"rpm": "none"})
    assert cleared.body["rpm"] is None


async def test_an_operator_connects_a_channel_and_prices_its_model(
    gateway: RunningGateway, backend: Backend, fake_upstream: FakeUpstream
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "1"})
    model = f"api-model-{secrets.token_hex(3)}"
    created = await operator.post(
        "/api/channels",
        {
            "name": model,
            "provider": "openai",
            "base_url": fake_upstream.url,
            "api_key": UPSTREAM_KEY,
            "models": f"{model}=gpt-4o-mini",
        },
    )
    assert created.status == 201 and "api_key" not in created.body
    priced = await operator.call("PUT", f"/api/prices/{model}", {"input": "0.5", "output": "1.5"})
    assert priced.body["output"] == "1.50"
    async with sdk(gateway, org.member.key_secret) as client:
        for _ in range(100):
            try:
                reply = await client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=5
                )
                break
            except (openai.NotFoundError, openai.BadRequestError):
                await asyncio.sleep(0.02)
        else:
            pytest.fail("the new channel never served its model")
    # Passed through as the upstream answered: under the name the channel sent it.
    assert reply.model == "gpt-4o-mini" and reply.choices[0].message.content
    disabled = await operator.call(
        "PATCH", f"/api/channels/{model}", {"enabled": False, "api_key": "sk-new"}
    )
    assert disabled.body["enabled"] is False
    markup = await operator.call("PUT", f"/api/orgs/{org.id}/markup", {"multiplier": "1.5"})
    assert markup.body == {"scope": "organization", "name": org.name, "multiplier": "1.5"}
    assert (await Api(gateway.url, org.admin.token).get("/api/channels")).status == 403
    async with backend.engine.connect() as conn:
        entries = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.changes)
                .where(audit_log.c.object_id == created.body["id"])
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [e.action for e in entries] == ["channel.create", "channel.update"]
    assert entries[1].changes["api_key_changed"] == [None, True]
    assert UPSTREAM_KEY not in json.dumps([e.changes for e in entries])
    assert "sk-new" not in json.dumps([e.changes for e in entries])


async def test_an_operator_sets_the_low_balance_threshold_and_its_notice_follows(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    assert (await operator.get(f"/api/orgs/{org.id}")).body["low_balance_threshold"] == "1.00"
    changed = await operator.call("PATCH", f"/api/orgs/{org.id}", {"low_balance_threshold": "5"})
    assert changed.body["low_balance_threshold"] == "5.00"
    bad = await operator.call("PATCH", f"/api/orgs/{org.id}", {"low_balance_threshold": "-1"})
    assert bad.status == 400 and bad.body["error"]["param"] == "low_balance_threshold"
    # Just above the threshold: the first request that costs anything goes below it.
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "5.000001"})
    async with sdk(gateway, org.member.key_secret) as client:
        await client.chat.completions.create(
            model="metered-model", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
    for _ in range(200):
        notices = (await operator.get(f"/api/notices?org_id={org.id}")).body
        if notices[0]["kind"] == "balance_low":
            break
        await asyncio.sleep(0.02)
    assert [n["kind"] for n in notices][:2] == ["balance_low", "recharge_received"]
    assert notices[0]["data"]["threshold"] == "5.00" and notices[0]["org_id"] == org.id
    async with backend.engine.connect() as conn:
        (changes,) = (
            await conn.execute(
                select(audit_log.c.changes).where(
                    audit_log.c.object_id == org.id, audit_log.c.action == "org.update"
                )
            )
        ).scalars()
    assert changes == {"low_balance_threshold": ["1.00", "5.00"]}
    assert (await Api(gateway.url, org.admin.token).get("/api/notices")).status == 403


async def test_an_operator_reads_the_price_a_model_is_billed_at(
    gateway: RunningGateway, backend: Backend
) -> None:
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    catalogue = (await operator.get("/api/prices/gpt-4o-mini")).body
    assert (catalogue["source"], catalogue["input"]) == ("catalogue", "0.15")
    own = (await operator.get("/api/prices/metered-model")).body
    assert (own["source"], own["output"]) == ("operator", "1000.00")
    assert (await operator.get("/api/prices/no-such-model-xyz")).status == 404


async def test_the_ledger_csv_escapes_formulas_but_keeps_negative_amounts_numbers(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    formula = '=HYPERLINK("http://example.invalid","x")'
    await operator.post(f"/api/orgs/{org.id}/recharges", {"amount": "1", "reference": formula})
    async with sdk(gateway, org.member.key_secret) as client:
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
    admin = Api(gateway.url, org.admin.token)
    for _ in range(200):  # until the ledger writer has written the charge
        rows = list(
            csv.DictReader(
                io.StringIO((await admin.get(f"/api/orgs/{org.id}/ledger?format=csv")).body)
            )
        )
        if len(rows) == 2:
            break
        await asyncio.sleep(0.05)
    recharge, charge = rows
    assert recharge["reference"] == "'" + formula
    assert charge["kind"] == "usage" and int(charge["amount"]) < 0
    assert charge["amount_display"].startswith("-") and float(charge["amount_display"]) < 0
