"""Summaries by attribution (end user, session, a custom property), read from the raw
events: through the API and `aisonar usage summary`, with the same figures the rollups
give for the same events; and an end user forgotten on request."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import orjson
from click.testing import CliRunner
from sqlalchemy import func, select

from aisonar.analytics.summary import Filters, GroupBy, summarize
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli import main
from aisonar.privacy.end_users import forget_end_user
from aisonar.store.tables import usage_events
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.models import UsageEvent
from aisonar.usage.rollups import HOUR
from tests.api.people import Api, Org, make_org
from tests.support import Backend, cli_environment
from tests.usage.test_rollups import event, write

# Two hours back on the hour: the raw events stay within any plan's retention.
_NOW = int(datetime.now(UTC).timestamp())
START = datetime.fromtimestamp(_NOW - _NOW % HOUR - 2 * HOUR, UTC)
SINCE, UNTIL = START - timedelta(days=1), START + timedelta(days=1)
WINDOW = urlencode({"since": SINCE.isoformat(), "until": UNTIL.isoformat()})


def tagged(
    org: Org, minute: int, end_user: str | None, session: str | None, **more: object
) -> UsageEvent:
    feature = more.pop("feature", None)
    properties = {"tenant": "all", **({"feature": feature} if feature else {})}
    return event(
        org.id,
        START + timedelta(minutes=minute),
        user_id=org.member.user_id,
        key_id=org.member.key_id,
        end_user=end_user,
        session_id=session,
        properties=orjson.dumps(properties).decode(),
        **more,
    )


async def activity(backend: Backend, org: Org, other: Org) -> None:
    """alice: 6 chat requests in session s1; bob: 3 dearer search requests in s2, one a
    500; 2 requests naming no one; and an alice of another organization."""
    events = [
        tagged(org, i, "alice", "s1", feature="chat", latency_ms=100 + 50 * i) for i in range(6)
    ]
    events += [
        tagged(
            org, 10 + i, "bob", "s2", feature="search", cost=5_000, status_code=500 if i else 200
        )
        for i in range(3)
    ]
    events += [tagged(org, 20 + i, None, None, latency_ms=4_000, ttft_ms=None) for i in range(2)]
    events.append(tagged(other, 0, "alice", "s1", feature="chat"))
    await write(backend, events)


async def test_breakdowns_and_filters_by_end_user_session_and_property(
    gateway: RunningGateway, backend: Backend
) -> None:
    org, other = await make_org(backend.engine), await make_org(backend.engine)
    await activity(backend, org, other)
    admin = Api(gateway.url, org.admin.token)

    def figures(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
        return [(r["group"], r["requests"], r["errors"], r["cost_units"]) for r in rows]

    by_end_user = (await admin.get(f"/api/analytics/usage?by=end_user&{WINDOW}")).body
    assert figures(by_end_user) == [
        ("bob", 3, 2, 15_000),
        ("alice", 6, 0, 6_000),
        ("", 2, 0, 2_000),
    ]
    alice = by_end_user[1]
    # Latencies 100..350 ms: p50 inside the bucket from 160 to 226.3 ms.
    assert 160 <= alice["latency_ms_p50"] <= 226.3 and alice["ttft_ms_avg"] == 100
    sessions = (await admin.get(f"/api/analytics/usage?by=session&end_user=alice&{WINDOW}")).body
    assert figures(sessions) == [("s1", 6, 0, 6_000)]
    features = await admin.get(f"/api/analytics/usage?by=property&property_name=feature&{WINDOW}")
    assert {r["group"]: r["requests"] for r in features.body} == {"search": 3, "chat": 6, "": 2}
    (search,) = (await admin.get(f"/api/analytics/usage?property=feature%3Dsearch&{WINDOW}")).body
    assert (search["group"], search["requests"], search["errors"]) == ("total", 3, 2)
    hours = (await admin.get(f"/api/analytics/usage?by=hour&end_user=alice&{WINDOW}")).body
    assert [(h["group"], h["requests"]) for h in hours] == [(START.isoformat(), 6)]
    assert (await admin.get(f"/api/analytics/usage?by=property&{WINDOW}")).status == 400
    assert (await admin.get(f"/api/analytics/usage?property=feature&{WINDOW}")).status == 400
    quoted = await admin.get(f"/api/analytics/usage?by=property&property_name=a%22b&{WINDOW}")
    assert quoted.status == 400
    # PostgreSQL refuses a NUL in a parameter: refused before it is asked.
    for nul in ("end_user=a%00b", "session_id=%00", "property=k%3Dv%00", "model=m%00"):
        assert (await admin.get(f"/api/analytics/usage?{nul}&{WINDOW}")).status == 400, nul


async def test_the_raw_events_give_the_figures_the_rollups_give(
    gateway: RunningGateway, backend: Backend
) -> None:
    org, other = await make_org(backend.engine), await make_org(backend.engine)
    await activity(backend, org, other)
    async with backend.engine.connect() as conn:
        from_rollups = await summarize(
            conn, Filters(since=SINCE, until=UNTIL, org_id=org.id), GroupBy.MODEL
        )
        # Every event of the organization has tenant=all: the same events, read raw.
        every = Filters(since=SINCE, until=UNTIL, org_id=org.id, property_equals=("tenant", "all"))
        from_events = await summarize(conn, every, GroupBy.MODEL)
        hourly = await summarize(conn, every, GroupBy.HOUR)
    assert from_events == from_rollups and from_rollups[0].requests == 11
    assert [h.requests for h in hourly] == [11]


async def test_the_command_line_and_forgetting_an_end_user(
    gateway: RunningGateway, backend: Backend
) -> None:
    org, other = await make_org(backend.engine), await make_org(backend.engine)
    await activity(backend, org, other)
    env = cli_environment(backend)

    async def aisonar(*arguments: str) -> str:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, list(arguments), env=env, catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return result.stdout

    window = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]
    summary = ["usage", "summary", "--org", org.name, *window, "--json"]
    rows = json.loads(await aisonar(*summary, "--by", "end_user", "--property", "feature=chat"))
    assert [(r["group"], r["requests"]) for r in rows] == [("alice", 6)]

    exported = await aisonar("usage", "export", "--org", org.name, "--format", "jsonl")
    records = [json.loads(line) for line in exported.splitlines()]
    assert len(records) == 11
    bob = next(r for r in records if r["end_user"] == "bob")
    assert bob["session_id"] == "s2"
    assert bob["properties"] == {"tenant": "all", "feature": "search"}

    forgotten = json.loads(
        await aisonar("privacy", "forget-end-user", "--org", org.name, "alice", "--json")
    )
    assert forgotten == {"events": 6}
    rows = json.loads(await aisonar(*summary, "--by", "session"))
    assert {r["group"]: r["requests"] for r in rows} == {"s2": 3, "": 8}
    async with backend.engine.connect() as conn:
        kept = await conn.execute(
            select(usage_events.c.org_id, func.count())
            .where(usage_events.c.org_id.in_([org.id, other.id]))
            .group_by(usage_events.c.org_id)
        )
        assert dict(kept.all()) == {org.id: 11, other.id: 1}
        # Another organization's alice is theirs: untouched.
        assert await forget_end_user(conn, COMMAND_LINE, other.id, "nobody") == 0
        theirs = await summarize(
            conn,
            Filters(since=SINCE, until=UNTIL, org_id=other.id, end_user="alice"),
            GroupBy.TOTAL,
        )
        assert theirs[0].requests == 1
