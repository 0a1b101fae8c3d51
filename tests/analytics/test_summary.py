"""Analytics from the rollups: totals, breakdowns and series with error rates and
percentiles, through the API (scoped by role) and `aisonar usage summary`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from aisonar.cli import main
from aisonar.testing.gateway_server import RunningGateway
from tests.api.people import Api, Org, make_operator, make_org
from tests.support import Backend, cli_environment
from tests.usage.test_rollups import event, write

DAY_ONE = datetime(2026, 11, 10, tzinfo=UTC)
WINDOW = "since=2026-11-10T00:00:00Z&until=2026-11-13T00:00:00Z"


async def activity(backend: Backend, org: Org) -> None:
    """Day one: the member 90 requests of gpt-4o-mini (10 of them 429s) and the admin 10
    of claude; day three: the member 5 more."""
    member, admin = org.member, org.admin
    events = [
        event(
            org.id,
            DAY_ONE + timedelta(minutes=i),
            user_id=member.user_id,
            key_id=member.key_id,
            latency_ms=100 + 10 * i,
            status_code=429 if i < 10 else 200,
        )
        for i in range(90)
    ]
    events += [
        event(
            org.id,
            DAY_ONE + timedelta(hours=5, seconds=i),
            user_id=admin.user_id,
            key_id=admin.key_id,
            requested_model="claude-haiku-4-5",
            provider="anthropic",
            cost=50_000,
        )
        for i in range(10)
    ]
    events += [
        event(org.id, DAY_ONE + timedelta(days=2), user_id=member.user_id, key_id=member.key_id)
        for _ in range(5)
    ]
    await write(backend, events)


async def test_breakdowns_series_and_percentiles_for_an_org_admin(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    await activity(backend, org)
    admin = Api(gateway.url, org.admin.token)
    by_model = (await admin.get(f"/api/analytics/usage?by=model&{WINDOW}")).body
    # Top N by cost: claude's 10 requests cost more than the 95 others.
    assert [(m["group"], m["requests"], m["errors"]) for m in by_model] == [
        ("claude-haiku-4-5", 10, 0),
        ("gpt-4o-mini", 95, 10),
    ]
    mini = by_model[1]
    assert mini["error_rate"] == round(10 / 95, 4) and mini["cost"] == "0.095"
    # Latencies 100..990 ms on day one and 500 ms on day three: p50 near 560 ms.
    assert 480 < mini["latency_ms_p50"] < 640 and mini["latency_ms_p99"] > 900
    # Every first byte came after 100 ms: inside the bucket from 80 to 113 ms.
    assert 80 <= mini["ttft_ms_p50"] <= 113 and mini["ttft_ms_avg"] == 100
    assert mini["output_tokens_per_s"] is not None and mini["output_tokens_per_s"] > 0

    days = (await admin.get(f"/api/analytics/usage?by=day&{WINDOW}")).body
    assert [(d["group"][:10], d["requests"]) for d in days] == [
        ("2026-11-10", 100),
        ("2026-11-12", 5),
    ]
    minutes = await admin.get(
        "/api/analytics/usage?by=minute&since=2026-11-10T00:00:00Z&until=2026-11-10T00:05:00Z"
    )
    assert [m["requests"] for m in minutes.body] == [1, 1, 1, 1, 1]
    (total,) = (await admin.get(f"/api/analytics/usage?{WINDOW}&status=2")).body
    assert (total["group"], total["requests"], total["errors"]) == ("total", 95, 0)
    by_provider = (await admin.get(f"/api/analytics/usage?by=provider&{WINDOW}")).body
    assert {p["group"]: p["requests"] for p in by_provider} == {"anthropic": 10, "openai": 95}
    refused = await admin.get(
        f"/api/analytics/usage?by=hour&since=2026-01-01T00:00:00Z&{WINDOW[23:]}"
    )
    assert refused.status == 400


async def test_a_user_sees_their_own_and_nobody_another_organization(
    gateway: RunningGateway, backend: Backend
) -> None:
    org, other = await make_org(backend.engine), await make_org(backend.engine)
    await activity(backend, org)
    member = Api(gateway.url, org.member.token)
    (mine,) = (await member.get(f"/api/analytics/usage?{WINDOW}")).body
    assert mine["requests"] == 95
    by_user = (await member.get(f"/api/analytics/usage?by=user&{WINDOW}")).body
    assert [u["group"] for u in by_user] == [org.member.user_id]
    admin_only = f"/api/analytics/usage?{WINDOW}&user_id={org.admin.user_id}"
    assert (await member.get(admin_only)).status == 403
    stranger = Api(gateway.url, other.admin.token)
    assert (await stranger.get(f"/api/analytics/usage?{WINDOW}&org_id={org.id}")).status == 404
    (theirs,) = (await stranger.get(f"/api/analytics/usage?{WINDOW}")).body
    assert theirs["requests"] == 0
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    (seen,) = (await operator.get(f"/api/analytics/usage?{WINDOW}&org_id={org.id}")).body
    assert seen["requests"] == 105


async def test_the_command_line_summary(gateway: RunningGateway, backend: Backend) -> None:
    org = await make_org(backend.engine)
    await activity(backend, org)
    arguments = ["usage", "summary", "--org", org.name, "--by", "user", "--json"]
    arguments += ["--since", "2026-11-10T00:00:00+00:00", "--until", "2026-11-13T00:00:00+00:00"]
    result = await asyncio.to_thread(
        CliRunner().invoke, main, arguments, env=cli_environment(backend), catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["group"]: r["requests"] for r in rows} == {
        org.admin.user_id: 10,
        org.member.user_id: 95,
    }
