"""Abuse detection against real requests through the gateway (the fake upstream behind
it): a key used from 50 addresses within minutes, a key scan from one address and a
credential stuffing run are each found by the next detection round, once; a key used
from a handful of addresses is not."""

from __future__ import annotations

import secrets

import aiohttp
import openai
import pytest

from aisonar.abuse.models import FindingKind, FindingStatus, SubjectKind
from aisonar.audit.services import list_entries
from aisonar.notify.notices import ABUSE_FINDING, list_notices
from aisonar.testing.gateway_server import RunningGateway
from tests.abuse.traffic import (
    chat_from,
    client,
    detection_round,
    findings_about,
    fresh_address,
)
from tests.support import Backend, Tenant


async def test_a_key_used_from_fifty_networks_within_minutes_is_found_once(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    base = secrets.randbelow(200)
    for network in range(50):
        await chat_from(gateway, tenant.secret, f"100.{64 + network}.{base}.9")
    await detection_round(backend, gateway)
    await detection_round(backend, gateway)
    [finding] = await findings_about(backend, FindingKind.KEY_SHARING, tenant.key_id)
    assert finding.status is FindingStatus.OPEN and finding.subject_kind is SubjectKind.KEY
    assert (finding.org_id, finding.user_id) == (tenant.org_id, tenant.user_id)
    assert finding.evidence["addresses"] == 50
    assert finding.evidence["networks"] == finding.evidence["new_networks"] == 50
    assert finding.evidence["busiest_hour_addresses"] == 0
    async with backend.engine.connect() as conn:
        told = [n for n in await list_notices(conn, tenant.org_id) if n.kind == ABUSE_FINDING]
        audited = await list_entries(conn, org_id=tenant.org_id, action="abuse.finding")
    # The key's owner, and the organization's admins.
    assert sorted(str(n.user_id) for n in told) == sorted([tenant.user_id, "None"])
    assert told[0].data["evidence"]["addresses"] == 50
    assert [entry.object_id for entry in audited] == [finding.id]


async def test_a_key_used_from_a_few_addresses_is_not_found(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    for host in range(5):
        await chat_from(gateway, tenant.secret, f"192.0.2.{host + 1}")
    await detection_round(backend, gateway)
    assert await findings_about(backend, FindingKind.KEY_SHARING, tenant.key_id) == []


async def test_a_key_scan_from_one_address_is_found(
    gateway: RunningGateway, backend: Backend
) -> None:
    scanner = fresh_address()
    for _ in range(backend.settings.abuse_key_refusals_floor):
        async with client(gateway, f"sk-sonar-{secrets.token_urlsafe(32)}") as sdk:
            with pytest.raises(openai.AuthenticationError):
                await sdk.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "hello"}],
                    extra_headers={"X-Forwarded-For": scanner},
                )
    await detection_round(backend, gateway)
    [finding] = await findings_about(backend, FindingKind.KEY_SCANNING, scanner)
    assert finding.org_id is None and finding.subject_kind is SubjectKind.ADDRESS
    assert finding.evidence["refused_keys"] == backend.settings.abuse_key_refusals_floor


async def test_a_credential_stuffing_run_from_one_address_is_found(
    gateway: RunningGateway, backend: Backend
) -> None:
    stuffer = fresh_address()
    accounts = backend.settings.abuse_sign_in_accounts_floor
    async with aiohttp.ClientSession() as session:
        for number in range(accounts):
            async with session.post(
                gateway.url + "/api/session",
                json={"email": f"victim-{number}-{stuffer}@example.com", "password": "hunter2"},
                headers={"X-Forwarded-For": stuffer},
            ) as answer:
                assert answer.status == 401
    await detection_round(backend, gateway)
    [finding] = await findings_about(backend, FindingKind.CREDENTIAL_STUFFING, stuffer)
    assert finding.evidence["accounts"] == finding.evidence["failed_sign_ins"] == accounts
