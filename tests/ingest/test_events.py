"""`POST /api/ingest/events`: usage reported by applications that call providers
themselves, with a key that may only report, priced from the price database, counted once
however often a batch is retried, and seen in the same analytics, marked by source."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiohttp
import openai
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from aisonar.billing.price_database import lookup
from aisonar.cli import main
from aisonar.clock import as_utc
from aisonar.ingest.reported import reported_event_id
from aisonar.store.tables import usage_events
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from aisonar.token_usage import TokenUsage
from tests.api.people import Api
from tests.support import (
    Backend,
    Tenant,
    assert_ledger_invariant,
    cli_environment,
    make_tenant,
    usage_count,
    wait_for_usage,
    writer_drained,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def reported(external_id: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": external_id,
        "provider": "openai",
        "model": "gpt-4o-mini",
        "timestamp": (NOW - timedelta(minutes=1)).isoformat(),
        "input_tokens": 1200,
        "cached_input_tokens": 200,
        "output_tokens": 300,
        "reasoning_tokens": 100,
        "latency_ms": 900,
        "ttft_ms": 250,
    }
    return event | fields


async def post_events(
    url: str, secret: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/api/ingest/events",
            data=data,
            headers={"Authorization": f"Bearer {secret}", **(headers or {})},
        ) as response,
    ):
        return response.status, await response.json(), dict(response.headers)


async def ingest_key(backend: Backend, email: str) -> str:
    """A key made as an operator would: `aisonar key create EMAIL --scope ingest`."""
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["key", "create", email, "--scope", "ingest", "--name", "app", "--json"],
        env=cli_environment(backend),
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["scope"] == "ingest"
    return str(created["secret"])


async def stored(backend: Backend, tenant: Tenant) -> list[Any]:
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(usage_events)
            .where(usage_events.c.org_id == tenant.org_id)
            .order_by(usage_events.c.external_id)
        )
        return list(rows)


async def test_an_ingest_key_reports_usage_priced_and_marked_by_source(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    secret = await ingest_key(backend, tenant.email)
    balance = await assert_ledger_invariant(backend.engine, tenant.org_id)
    events = [
        reported(
            "evt-1",
            user="end-user-7",
            session_id="conversation-3",
            properties={"feature": "search", "beta": True},
        ),
        reported(
            "evt-2",
            provider="anthropic",
            model="claude-haiku-4-5",
            status=429,
            error_type="rate_limit_error",
            stream=True,
            timestamp=(NOW - timedelta(minutes=2))
            .astimezone(timezone(timedelta(hours=8)))
            .isoformat(),
        ),
    ]
    status, body, _ = await post_events(gateway.url, secret, {"events": events})
    assert (status, body) == (202, {"accepted": 2})
    await wait_for_usage(backend.engine, tenant.org_id, 2)

    first, second = await stored(backend, tenant)
    price = lookup("gpt-4o-mini", "openai")
    assert price is not None
    usage = TokenUsage(input_tokens=1200, cached_input_tokens=200, output_tokens=300)
    assert first.id == reported_event_id(tenant.org_id, "evt-1")
    assert (first.source, first.external_id, first.end_user) == ("ingest", "evt-1", "end-user-7")
    assert first.properties == {"feature": "search", "beta": True}
    assert (first.session_id, second.session_id) == ("conversation-3", None)
    assert (first.cost, first.price_version) == (price.cost(usage), price.version)
    # Attributed to the ingest key and its owner.
    assert first.cost > 0 and first.user_id == tenant.user_id and first.key_id != tenant.key_id
    assert (first.latency_ms, first.ttft_ms, first.reasoning_tokens) == (900, 250, 100)
    assert (first.provider, first.endpoint, first.status_code) == ("openai", "chat", 200)
    assert (second.status_code, second.error_type, second.stream) == (429, "rate_limit_error", True)
    # Its start, sent at UTC+8, is kept in UTC.
    assert as_utc(second.started_at) == NOW - timedelta(minutes=2)
    # Monitoring only: nobody was charged.
    assert await assert_ledger_invariant(backend.engine, tenant.org_id) == balance


async def test_reported_events_join_the_analytics_by_source(
    gateway: RunningGateway, backend: Backend
) -> None:
    from tests.api.people import make_org

    org = await make_org(backend.engine)
    admin = org.admin
    # Sent twice, and one event twice within: the rollups count each event once.
    batch = {"events": [reported(f"a-{i}") for i in (0, 1, 2, 0)]}
    for _ in range(2):
        assert (await post_events(gateway.url, admin.key_secret, batch))[0] == 202
    await writer_drained(gateway)
    api = Api(gateway.url, admin.token)
    since = (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    by_source = (await api.get(f"/api/analytics/usage?by=source&since={since}")).body
    assert [(row["group"], row["requests"]) for row in by_source] == [("ingest", 3)]
    only = (await api.get(f"/api/analytics/usage?source=ingest&since={since}")).body
    assert only[0]["requests"] == 3


async def test_a_retried_batch_counts_once(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    batch = {"events": [reported("once-1"), reported("once-2"), reported("once-1")]}
    for _ in range(3):
        status, body, _ = await post_events(gateway.url, tenant.secret, batch)
        assert (status, body) == (202, {"accepted": 3})
    await wait_for_usage(backend.engine, tenant.org_id, 2)
    await writer_drained(gateway)
    assert await usage_count(backend.engine, tenant.org_id) == 2


async def test_the_same_event_id_in_two_organizations_is_two_events(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    other = await make_tenant(backend.engine)
    for who in (tenant, other):
        status, _, _ = await post_events(gateway.url, who.secret, {"events": [reported("x")]})
        assert status == 202
    await wait_for_usage(backend.engine, tenant.org_id, 1)
    await wait_for_usage(backend.engine, other.org_id, 1)


async def test_a_gzip_batch_is_taken(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    body = gzip.compress(json.dumps({"events": [reported("gz")]}).encode())
    status, _, _ = await post_events(gateway.url, tenant.secret, body, {"Content-Encoding": "gzip"})
    assert status == 202
    await wait_for_usage(backend.engine, tenant.org_id, 1)


FUTURE = (NOW + timedelta(hours=1)).isoformat()
BAD_BATCHES: list[tuple[Any, str]] = [
    ({"events": []}, "length >= 1"),
    ({"events": [reported(str(i)) for i in range(1001)]}, "length <= 1000"),
    ({"events": [reported("a", prompt="secret text")]}, "unknown field `prompt`"),
    ({"events": [reported("a", input_tokens="12")]}, "`$.events[0].input_tokens`"),
    ({"events": [reported("a", output_tokens=-1)]}, ">= 0"),
    ({"events": [reported("a"), reported("b", timestamp=FUTURE)]}, "events[1]: the start time"),
    ({"events": [reported("a", timestamp="2026-11-01T10:00:00")]}, "timezone"),
    ({"events": [reported("a", cached_input_tokens=5000)]}, "part of input_tokens"),
    ({"events": [reported("a", reasoning_tokens=301)]}, "part of output_tokens"),
    ({"events": [reported("a", ttft_ms=901)]}, "ttft_ms is longer"),
    ({"events": [reported("a", properties={"k": "v" * 501})]}, "length <= 500"),
    ({"events": [reported("a", status=99)]}, ">= 100"),
    ({"events": [{k: v for k, v in reported("a").items() if k != "model"}]}, "`model`"),
    (b"{not json", "not JSON"),
    (b'{"events": [{"id": "\xed\xa0\x80"}]}', "not JSON"),
]


@pytest.mark.parametrize(("batch", "fault"), BAD_BATCHES)
async def test_a_bad_batch_is_refused_whole_with_its_fault(
    gateway: RunningGateway, backend: Backend, tenant: Tenant, batch: Any, fault: str
) -> None:
    status, body, _ = await post_events(gateway.url, tenant.secret, batch)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert fault in body["error"]["message"]
    await writer_drained(gateway)
    assert await usage_count(backend.engine, tenant.org_id) == 0


async def test_a_corrupt_gzip_body_and_a_missing_key_are_refused(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    status, body, _ = await post_events(
        gateway.url, tenant.secret, b"not gzip", {"Content-Encoding": "gzip"}
    )
    assert status == 400 and "gzip" in body["error"]["message"]
    status, body, _ = await post_events(gateway.url, "sk-wrong", {"events": [reported("a")]})
    assert status == 401 and body["error"]["code"] == "invalid_api_key"


async def test_an_ingest_key_cannot_call_models(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    secret = await ingest_key(backend, tenant.email)
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=secret) as client:
        with pytest.raises(openai.PermissionDeniedError) as refused:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
        assert refused.value.code == "ingest_only_key"
        with pytest.raises(openai.PermissionDeniedError):
            await client.models.list()
    await writer_drained(gateway)
    assert await usage_count(backend.engine, tenant.org_id) == 0


async def test_a_backlogged_writer_refuses_the_whole_batch(backend: Backend) -> None:
    settings = backend.settings.model_copy(
        update={"usage_queue_size": 2, "usage_flush_interval_s": 3600.0}
    )
    tenant = await make_tenant(backend.engine)
    async with running_gateway(settings) as small:
        status, body, headers = await post_events(
            small.url, tenant.secret, {"events": [reported(str(i)) for i in range(3)]}
        )
        assert status == 503 and headers["Retry-After"] == "1"
        assert body["error"]["code"] == "ingestion_backlogged"
        assert small.app.runtime.writer.queue_depth == 0
