"""Summaries by end user and by the properties an organization marks as dimensions read
the attribution rollups, and give what the raw events give: for events written before a
property was marked (built then from the events) and after (added by the writer as it
writes them, with no compaction), after an end user is forgotten, a person erased, and
retention cuts the organization's events mid-day. The setting through the API and the
command line."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from datetime import UTC, datetime, timedelta

import orjson
from click.testing import CliRunner
from sqlalchemy import delete, func, select

from aisonar.accounts.plans import set_org_retention
from aisonar.analytics.summary import Filters, GroupBy, Summary, summarize
from aisonar.audit.models import COMMAND_LINE
from aisonar.cli import main
from aisonar.privacy.end_users import forget_end_user
from aisonar.privacy.erasure import erase_person
from aisonar.store.tables import attribution_rollups, usage_events
from aisonar.testing.gateway_server import RunningGateway
from aisonar.usage.attribution_rollups import mark_properties
from aisonar.usage.models import UsageEvent
from aisonar.usage.rollups import DAY, HOUR
from tests.api.people import Api, Org, make_operator, make_org
from tests.support import Backend, cli_environment
from tests.usage.test_rollups import event, write

_NOW = int(datetime.now(UTC).timestamp())
# The last whole hour; the events go back two days from it, within any plan's retention.
LAST_HOUR = datetime.fromtimestamp(_NOW - _NOW % HOUR - HOUR, UTC)
SINCE = datetime.fromtimestamp(_NOW - _NOW % DAY - 3 * DAY, UTC)
UNTIL = datetime.fromtimestamp(_NOW - _NOW % DAY + DAY, UTC)
END_USERS = ("alice", "bob", "carol", "dave", None)
FEATURES = ("chat", "search", "summarize", None)


def activity(org: Org, count: int, seed: int) -> list[UsageEvent]:
    """Events over the last 48 hours, by end users, features and tiers (a JSON number)
    at random, some of them errors, some without a first byte."""
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        properties: dict[str, object] = {"tier": rng.choice((1, 2))}
        if (feature := rng.choice(FEATURES)) is not None:
            properties["feature"] = feature
        events.append(
            event(
                org.id,
                LAST_HOUR - timedelta(minutes=rng.randrange(48 * 60)),
                end_user=rng.choice(END_USERS),
                properties=orjson.dumps(properties).decode(),
                cost=rng.randrange(100, 10_000),
                latency_ms=rng.randrange(50, 8_000),
                ttft_ms=rng.choice((None, rng.randrange(10, 50))),
                status_code=rng.choice((200, 200, 200, 429, 500)),
            )
        )
    return events


def by_group(summaries: list[Summary]) -> dict[str, Summary]:
    return {summary.group: summary for summary in summaries}


async def both(
    backend: Backend, org: Org, by: GroupBy, **filters: object
) -> tuple[dict[str, Summary], dict[str, Summary]]:
    """The summary as read (from the rollups, when they answer it) and from the raw
    events: every event is a gateway one, and a source filter is not rolled up."""
    chosen = Filters(since=SINCE, until=UNTIL, org_id=org.id, **filters)  # type: ignore[arg-type]
    raw = Filters(since=SINCE, until=UNTIL, org_id=org.id, source="gateway", **filters)  # type: ignore[arg-type]
    async with backend.engine.connect() as conn:
        read = await summarize(conn, chosen, by, limit=1000)
        from_events = await summarize(conn, raw, by, limit=1000)
    return by_group(read), by_group(from_events)


# The summaries the rollups answer, with the filters they take.
QUESTIONS: list[tuple[GroupBy, dict[str, object]]] = [
    (GroupBy.END_USER, {}),
    (GroupBy.PROPERTY, {"property_name": "feature"}),
    (GroupBy.PROPERTY, {"property_name": "tier"}),
    (GroupBy.TOTAL, {"end_user": "alice"}),
    (GroupBy.HOUR, {"end_user": "bob"}),
    (GroupBy.DAY, {"property_equals": ("feature", "chat")}),
    (GroupBy.TOTAL, {"property_equals": ("tier", "2")}),
]


async def assert_rollups_agree(backend: Backend, org: Org) -> dict[str, Summary]:
    """Every question's answer equals the raw events'; the breakdown by end user."""
    for by, filters in QUESTIONS:
        read, from_events = await both(backend, org, by, **filters)
        assert read == from_events, (by, filters)
    read, _ = await both(backend, org, GroupBy.END_USER)
    return read


async def rollup_rows(backend: Backend, org: Org) -> int:
    async with backend.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(attribution_rollups)
            .where(attribution_rollups.c.org_id == org.id)
        )
    return int(count or 0)


async def test_summaries_by_end_user_and_marked_property_are_the_raw_events_figures(
    backend: Backend,
) -> None:
    org = await make_org(backend.engine)
    await write(backend, activity(org, 300, seed=1))
    # Marked after those events: their rows are built from them.
    async with backend.engine.begin() as conn:
        marked = await mark_properties(conn, COMMAND_LINE, org.id, ["tier", "feature", "tier"])
    assert marked == ["feature", "tier"]
    # Added as they are written, no compaction run.
    await write(backend, activity(org, 300, seed=2), batch_size=37)
    by_end_user = await assert_rollups_agree(backend, org)
    assert sum(summary.requests for summary in by_end_user.values()) == 600
    assert set(by_end_user) == {"alice", "bob", "carol", "dave", ""}

    # They are read from the rollups: the figures outlive the raw events.
    async with backend.engine.begin() as conn:
        await conn.execute(delete(usage_events).where(usage_events.c.org_id == org.id))
    read, from_events = await both(backend, org, GroupBy.END_USER)
    assert read == by_end_user and from_events == {}

    # Unmarked, a property's rows go; a breakdown by it reads the events again.
    async with backend.engine.begin() as conn:
        await mark_properties(conn, COMMAND_LINE, org.id, ["feature"])
        tiers = await summarize(
            conn,
            Filters(since=SINCE, until=UNTIL, org_id=org.id, property_name="tier"),
            GroupBy.PROPERTY,
        )
        left = await conn.scalar(
            select(func.count())
            .select_from(attribution_rollups)
            .where(attribution_rollups.c.dimension == "property:tier")
        )
    assert tiers == [] and left == 0


async def test_a_request_counts_by_end_user_as_soon_as_it_is_written(backend: Backend) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        await mark_properties(conn, COMMAND_LINE, org.id, ["feature"])
    now = datetime.now(UTC)
    fresh = [event(org.id, now, end_user="erin", properties='{"feature": "new"}') for _ in range(3)]
    await write(backend, fresh)
    read, _ = await both(backend, org, GroupBy.END_USER)
    assert {group: summary.requests for group, summary in read.items()} == {"erin": 3}
    read, _ = await both(backend, org, GroupBy.PROPERTY, property_name="feature")
    assert {group: summary.requests for group, summary in read.items()} == {"new": 3}


async def test_forgetting_an_end_user_or_erasing_a_person_clears_their_rollups(
    backend: Backend,
) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        await mark_properties(conn, COMMAND_LINE, org.id, ["feature"])
    events = activity(org, 200, seed=3)
    # Some of the member's requests name dave; erasing the member clears those.
    for item in events[:40]:
        item.user_id, item.end_user = org.member.user_id, "dave"
    await write(backend, events)
    before = await assert_rollups_agree(backend, org)
    assert before["alice"].requests > 0

    async with backend.engine.begin() as conn:
        await forget_end_user(conn, COMMAND_LINE, org.id, "alice")
    after = await assert_rollups_agree(backend, org)
    assert "alice" not in after
    assert after[""].requests == before[""].requests + before["alice"].requests
    async with backend.engine.connect() as conn:
        named = await conn.scalar(
            select(func.count())
            .select_from(attribution_rollups)
            .where(attribution_rollups.c.org_id == org.id, attribution_rollups.c.value == "alice")
        )
    assert named == 0

    async with backend.engine.begin() as conn:
        await erase_person(conn, org.member.user_id, f"erased-{secrets.token_hex(4)}@invalid")
    erased = await assert_rollups_agree(backend, org)
    assert erased["dave"].requests == before["dave"].requests - 40


async def test_retention_cuts_the_rollups_where_it_cuts_the_events(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    async with backend.engine.begin() as conn:
        await mark_properties(conn, COMMAND_LINE, org.id, ["feature"])
        await set_org_retention(conn, org.id, 1)
    await write(backend, activity(org, 300, seed=4))
    before = await rollup_rows(backend, org)
    # A day back from the middle of the last hour: the window cuts a day of events.
    as_of = LAST_HOUR + timedelta(minutes=30)
    result = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["retention", "run", "--as-of", as_of.isoformat(), "--json"],
        env=cli_environment(backend),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    async with backend.engine.connect() as conn:
        oldest = await conn.scalar(
            select(func.min(attribution_rollups.c.bucket_start)).where(
                attribution_rollups.c.org_id == org.id
            )
        )
    by_end_user = await assert_rollups_agree(backend, org)
    assert sum(summary.requests for summary in by_end_user.values()) < 300
    assert await rollup_rows(backend, org) < before
    cutoff = as_of - timedelta(days=1)
    assert oldest is not None
    assert oldest.replace(tzinfo=UTC) >= datetime.fromtimestamp(
        int(cutoff.timestamp()) // DAY * DAY, UTC
    )


async def test_the_dimensions_are_set_through_the_api_and_the_command_line(
    gateway: RunningGateway, backend: Backend
) -> None:
    org = await make_org(backend.engine)
    operator = Api(gateway.url, (await make_operator(backend.engine)).token)
    changed = await operator.call("PATCH", f"/api/orgs/{org.id}", {"dimension_properties": ["a"]})
    assert changed.status == 200 and changed.body["dimension_properties"] == ["a"]
    too_many = {"dimension_properties": [f"p{index}" for index in range(6)]}
    refused = await operator.call("PATCH", f"/api/orgs/{org.id}", too_many)
    assert refused.status == 400 and "at most 5" in json.dumps(refused.body)
    admin = Api(gateway.url, org.admin.token)
    unmarked = await admin.call("PATCH", f"/api/orgs/{org.id}", {"dimension_properties": []})
    assert unmarked.status == 403

    def aisonar(*arguments: str) -> dict[str, object]:
        result = CliRunner().invoke(
            main, list(arguments), env=cli_environment(backend), catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        found: dict[str, object] = json.loads(result.stdout)
        return found

    update = ["org", "update", org.name, "--json", "--dimension-properties"]
    shown = await asyncio.to_thread(aisonar, *update, "team, feature")
    assert shown["dimension_properties"] == ["feature", "team"]
    shown = await asyncio.to_thread(aisonar, *update, "none")
    assert shown["dimension_properties"] == []
